"""Reads of the notifications app, scoped to the user asking."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db.models import QuerySet

from .models import ALWAYS_EMAILED, EmailState, Kind, Notification, Preference

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
# No row in Preference means this: email on for every kind.
EMAIL_DEFAULT = True


def unread_count(*, user: AbstractBaseUser) -> int:
    """The badge: one COUNT on the (recipient, read_at) index."""
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def notifications_for_user(*, user: AbstractBaseUser) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user.pk).order_by("-created_at", "-id")


def notification_for_email(*, notification_id: int) -> Notification | None:
    """For the worker: None if the notification (or its user) was deleted meanwhile."""
    return Notification.objects.select_related("recipient").filter(pk=notification_id).first()


def email_enabled(*, user: AbstractBaseUser, kind: str) -> bool:
    if kind in ALWAYS_EMAILED:
        return True
    value = Preference.objects.filter(user_id=user.pk, kind=kind).values_list("email_enabled", flat=True)
    return next(iter(value), EMAIL_DEFAULT)


def email_preferences(*, user: AbstractBaseUser) -> dict[str, bool]:
    """Every kind with the user's choice, defaults filled in."""
    chosen = dict(Preference.objects.filter(user_id=user.pk).values_list("kind", "email_enabled"))
    return {kind: chosen.get(kind, EMAIL_DEFAULT) for kind in Kind.values if kind not in ALWAYS_EMAILED}


def unsubscribe_token(*, user: AbstractBaseUser, kind: str) -> str:
    return signing.dumps([user.pk, kind], salt=UNSUBSCRIBE_SALT)


def unsubscribe_target(*, token: str) -> tuple[AbstractBaseUser, str] | None:
    """The (user, kind) a signed unsubscribe token names; None if forged, mangled or stale."""
    try:
        user_id, kind = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if kind not in Kind.values:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return (user, kind) if user is not None else None


def daily_figures(start: datetime, end: datetime) -> dict[str, int]:
    """For the ops statistics (registered in ops.py): emails sent in [start, end)."""
    sent = Notification._base_manager.filter(
        email_state=EmailState.SENT, email_sent_at__gte=start, email_sent_at__lt=end
    )
    return {"emails_sent": sent.count()}
