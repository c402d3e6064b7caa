from django.apps import AppConfig


class MediaAppConfig(AppConfig):
    name = "media_app"
    verbose_name = "Images"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from config.core.errors import register_retryable
        from config.core.words import register_kind

        from . import signals  # noqa: F401
        from .services import JOB_KIND, MESSAGE_STORAGE_DOWN

        register_kind(JOB_KIND, "Picture compression")
        register_retryable(MESSAGE_STORAGE_DOWN)

        # Pillow's own guard, for any decode in this process; imaging.py also checks every file
        # against MEDIA_MAX_PIXELS before it decodes anything.
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS
