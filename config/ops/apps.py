from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "config.ops"
    label = "ops"
    verbose_name = "Operations: schedules, cleanup and statistics"

    def ready(self) -> None:
        from config.core.words import register_kind  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from .registry import autodiscover  # noqa: PLC0415 - ready(): runs once the app registry is ready
        from .tasks import CLEANUP_TASK, REDISPATCH_TASK, STATISTICS_TASK  # noqa: PLC0415 - ready(): runs once the app registry is ready

        # Periodic tasks get a job row named after the task (config.core.services.job_start).
        for task, name in (
            (CLEANUP_TASK, "Cleanup"),
            (STATISTICS_TASK, "Daily statistics"),
            (REDISPATCH_TASK, "Re-sending waiting jobs"),
        ):
            register_kind(task, name, housekeeping=True)

        # Each app's ops.py registers its sweeps, daily figures and failure reasons.
        autodiscover()
