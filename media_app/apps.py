from django.apps import AppConfig


class MediaAppConfig(AppConfig):
    name = "media_app"
    verbose_name = "Images"

    def ready(self) -> None:
        from django.conf import settings  # noqa: PLC0415 - ready(): runs once the app registry is ready
        from PIL import Image  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from config.core.errors import register_retryable  # noqa: PLC0415 - ready(): runs once the app registry is ready
        from config.core.words import register_kind  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from . import signals  # noqa: F401, PLC0415 - ready(): runs once the app registry is ready
        from .services import JOB_KIND, MESSAGE_STORAGE_DOWN  # noqa: PLC0415 - ready(): runs once the app registry is ready

        register_kind(JOB_KIND, "Picture compression")
        register_retryable(MESSAGE_STORAGE_DOWN)

        # Pillow's own guard, for any decode in this process; imaging.py also checks every file
        # against MEDIA_MAX_PIXELS before it decodes anything.
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS
