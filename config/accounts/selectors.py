"""Reads of accounts that other code needs: may this account be emailed? In which time zone?"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from . import zones
from .models import EmailAddress, Profile


def email_verified(*, user: AbstractBaseUser) -> bool:
    """True when the account's current address is the one its owner confirmed."""
    email = (getattr(user, "email", "") or "").strip()
    if not email:
        return False
    return EmailAddress.objects.filter(
        user_id=user.pk, email__iexact=email, verified_at__isnull=False
    ).exists()


def email_in_use(*, email: str) -> bool:
    """Whether any account holds this address, in any letter case (old accounts without an
    address row included, so a sign-up cannot take the address of one)."""
    email = email.strip()
    return (
        EmailAddress.objects.filter(email__iexact=email).exists()
        or get_user_model().objects.filter(email__iexact=email).exists()
    )


def verified_account_for(*, email: str) -> AbstractBaseUser | None:
    """The one active account whose confirmed address this is (unique, so never more than one)."""
    row = (
        EmailAddress.objects.select_related("user")
        .filter(email__iexact=email.strip(), verified_at__isnull=False, user__is_active=True)
        .first()
    )
    if row is None or row.user.email.strip().lower() != row.email.strip().lower():
        return None
    return row.user


def time_zone_for(*, user: AbstractBaseUser) -> str:
    """The person's IANA time zone name; settings.TIME_ZONE when they have none (or an unknown one)."""
    name = Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    return name if name and zones.is_known(name) else settings.TIME_ZONE


def time_zone_info(*, user: AbstractBaseUser):
    """The person's zone as a ZoneInfo, for a worker formatting times for them."""
    return zoneinfo.ZoneInfo(time_zone_for(user=user))
