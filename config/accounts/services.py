"""Every write of accounts: sign-up (and, below, verification and password reset)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from .signals import user_signed_up


def user_sign_up(*, username: str, email: str, password: str):
    """Create an account and, in the same transaction, let listeners queue its welcome email."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        user_signed_up.send(sender=user.__class__, user=user)
    return user
