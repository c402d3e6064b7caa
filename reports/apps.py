from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from config.core.words import register_kind

        from .services import JOB_KIND

        register_kind(JOB_KIND, "Excel export")
