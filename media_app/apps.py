from django.apps import AppConfig


class MediaAppConfig(AppConfig):
    name = "media_app"
    verbose_name = "Images"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from . import signals  # noqa: F401

        # Pillow's own guard, for any decode in this process; imaging.py also checks every file
        # against MEDIA_MAX_PIXELS before it decodes anything.
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS
