from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "config.ops"
    label = "ops"
    verbose_name = "Operations: schedules, cleanup and statistics"

    def ready(self) -> None:
        from .registry import autodiscover

        # Each app's ops.py registers its sweeps, daily figures and failure reasons.
        autodiscover()
