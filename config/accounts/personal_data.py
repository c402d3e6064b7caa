"""What the accounts app holds about a person (mydata.registry): the account and its limits."""

from __future__ import annotations

from config.mydata.registry import Holding, registry
from config.mydata.services import json_holding

from .models import Allowance, EmailAddress


@registry.holdings("accounts")
def account(user) -> list[Holding]:
    address = EmailAddress.objects.filter(user_id=user.pk).first()
    allowance = Allowance.objects.filter(user_id=user.pk).first()
    data = {
        "username": user.get_username(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "email_verified_at": address.verified_at if address else None,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "storage_bytes_used": allowance.bytes_used if allowance else 0,
        "storage_quota_bytes": allowance.quota_bytes if allowance else None,
        "uploads_per_minute": allowance.uploads_per_minute if allowance else None,
    }
    return [json_holding("account.json", data)]
