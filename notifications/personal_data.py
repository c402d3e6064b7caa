"""What the notifications app holds about a person (mydata.registry): what we told them, and
their email choices."""

from __future__ import annotations

from config.mydata.registry import Holding, registry
from config.mydata.services import json_holding

from .models import Notification, Preference


@registry.holdings("notifications")
def notifications(user) -> list[Holding]:
    told = (
        Notification.objects.filter(recipient_id=user.pk)
        .order_by("pk")
        .values(
            "id", "kind", "title", "body", "link", "created_at", "read_at", "email_state", "email_sent_at"
        )
    )
    prefs = (
        Preference.objects.filter(user_id=user.pk)
        .order_by("kind")
        .values("kind", "email_enabled", "updated_at")
    )
    return [
        json_holding("notifications.json", list(told)),
        json_holding("email_preferences.json", list(prefs)),
    ]
