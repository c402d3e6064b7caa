from django.contrib.auth import get_user_model
from django.db import transaction


def user_sign_up(*, username: str, email: str, password: str):
    """Create an account and queue its welcome email in the same transaction."""
    from notifications.services import notify_welcome

    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        notify_welcome(user=user)
    return user
