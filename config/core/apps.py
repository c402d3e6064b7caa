from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "config.core"
    label = "core"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Registers the <id:…> URL converter before any URL conf is loaded, and the system checks.
        from . import checks, converters, upgrades  # noqa: F401, PLC0415 - ready(): runs once the app registry is ready
