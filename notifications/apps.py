from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from config.accounts import signals as accounts  # noqa: PLC0415 - ready(): runs once the app registry is ready
        from config.core.words import register_kind  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from . import checks, receivers  # noqa: F401, PLC0415 - ready(): runs once the app registry is ready; checks registers the system checks

        register_kind("notifications.email", "Email")
        # Accounts (under config/) imports no app; it says what happened and we send the email.
        accounts.user_signed_up.connect(receivers.welcome, dispatch_uid="notifications.welcome")
        accounts.verification_requested.connect(receivers.verification, dispatch_uid="notifications.verify")
        accounts.password_reset_requested.connect(
            receivers.password_reset, dispatch_uid="notifications.reset"
        )
