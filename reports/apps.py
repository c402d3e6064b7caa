from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from config.core.words import register_kind  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from .services import JOB_KIND  # noqa: PLC0415 - ready(): runs once the app registry is ready

        register_kind(JOB_KIND, "Report export")

        from config.accounts import signals as accounts  # noqa: PLC0415 - ready(): runs once the app registry is ready

        # Accounts (under config/) imports no app: it says the zone changed, schedules follow.
        accounts.time_zone_changed.connect(_time_zone_changed, dispatch_uid="reports.schedules_time_zone")


def _time_zone_changed(sender, user, time_zone: str, **kwargs) -> None:
    from . import services  # noqa: PLC0415 - ready(): runs once the app registry is ready

    services.schedules_follow_time_zone(user=user, time_zone=time_zone)
