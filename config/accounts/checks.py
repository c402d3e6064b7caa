from django.core import checks

from .signals import password_reset_requested, user_signed_up, verification_requested


@checks.register()
def signals_have_listeners(app_configs=None, **kwargs):
    missing = [
        name
        for name, signal in (
            ("user_signed_up", user_signed_up),
            ("verification_requested", verification_requested),
            ("password_reset_requested", password_reset_requested),
        )
        if not signal.has_listeners()
    ]
    if not missing:
        return []
    return [
        checks.Warning(
            f"Nothing listens to config.accounts.signals {', '.join(missing)}: no welcome, verification "
            "or password-reset email will be sent.",
            hint="Add the notifications app to INSTALLED_APPS.",
            id="accounts.W001",
        )
    ]
