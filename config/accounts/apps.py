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
        from . import checks  # noqa: F401 - registers the system checks
