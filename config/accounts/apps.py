from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-up, login, address verification and password reset.

    It lives under config/ beside the job layer and, like it, imports no app: what an app does when
    someone signs up or asks for a reset (the notifications app emails them) it does by listening
    to :mod:`config.accounts.signals`.
    """

    name = "config.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in  # noqa: PLC0415 - ready(): runs once the app registry is ready

        from . import checks  # noqa: F401, PLC0415 - ready(): runs once the app registry is ready; registers the system checks
        from .middleware import remember_time_zone_at_login  # noqa: PLC0415 - ready(): runs once the app registry is ready

        # The zone goes into the session as the session is made, so no later request (a status poll
        # above all) pays for reading the profile or for saving the session again.
        user_logged_in.connect(remember_time_zone_at_login, dispatch_uid="accounts.time_zone_at_login")
