from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from config.accounts import signals as accounts

        # Accounts (under config/) imports no app: it says the zone changed, schedules follow.
        accounts.time_zone_changed.connect(_time_zone_changed, dispatch_uid="reports.schedules_time_zone")


def _time_zone_changed(sender, user, time_zone: str, **kwargs) -> None:
    from . import services

    services.schedules_follow_time_zone(user=user, time_zone=time_zone)
