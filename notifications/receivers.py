"""What the notifications app does when accounts (config/accounts/signals.py) says something happened."""

from . import services


def welcome(sender, *, user, **kwargs) -> None:
    services.notify_welcome(user=user)


def verification(sender, *, user, **kwargs) -> None:
    services.notify_verification(user=user)


def password_reset(sender, *, user, **kwargs) -> None:
    services.notify_password_reset(user=user)
