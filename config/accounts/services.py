"""Every write of accounts: sign-up, address verification, password reset."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import selectors, zones
from .models import EmailAddress, Profile
from .signals import password_reset_requested, time_zone_changed, user_signed_up, verification_requested

VERIFY_SALT = "accounts.verify-email"


class EmailTaken(ValueError):
    """Another account holds this address (in some letter case)."""


class UnknownTimeZone(ValueError):
    """Not a time zone of zones.names()."""


def user_sign_up(*, username: str, email: str, password: str, time_zone: str | None = None):
    """Create an account with an unverified address and, in the same transaction, let listeners
    queue its welcome email (which carries the verification link). Raises :class:`EmailTaken`.
    ``time_zone`` (the browser's, at sign-up) defaults to settings.TIME_ZONE."""
    email = email.strip()
    time_zone = time_zone or settings.TIME_ZONE
    if not zones.is_known(time_zone):
        raise UnknownTimeZone(time_zone)
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=username, email=email, password=password)
            # The constraint decides a race that the form's check could not see.
            EmailAddress.objects.create(user=user, email=email)
            Profile.objects.create(user=user, time_zone=time_zone)
            user_signed_up.send(sender=user.__class__, user=user)
    except IntegrityError:
        if EmailAddress.objects.filter(email__iexact=email).exists():
            raise EmailTaken(email)
        raise
    return user


# --- verification --------------------------------------------------------------------------------


def verification_token(*, user: AbstractBaseUser) -> str:
    # The address is part of the token: a link for an old address does not confirm a new one.
    return signing.dumps([user.pk, user.email.strip().lower()], salt=VERIFY_SALT, compress=True)


def verification_url(*, user: AbstractBaseUser) -> str | None:
    """The absolute link that confirms the account's current address; None once it is confirmed.
    Made when the email is built (on the worker), so the link is stored nowhere, shown nowhere
    in the app: only someone who reads the mailbox can follow it."""
    if not user.email or selectors.email_verified(user=user):
        return None
    path = reverse("verify_email", args=[verification_token(user=user)])
    return settings.SITE_URL + path


@dataclass(frozen=True)
class Verification:
    status: int  # 200 verified (now or before), 400 not a link of ours, 410 expired
    message: str
    user: AbstractBaseUser | None = None


def email_verify(*, token: str) -> Verification:
    try:
        user_id, email = signing.loads(token, salt=VERIFY_SALT, max_age=settings.ACCOUNTS_VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        return Verification(410, "This link has expired. Log in and ask for a new one.")
    except (signing.BadSignature, ValueError, TypeError):
        return Verification(400, "This link is not valid. Check that you copied all of it.")
    with transaction.atomic():
        row = EmailAddress.objects.select_for_update().select_related("user").filter(user_id=user_id).first()
        if row is None or not isinstance(email, str) or row.email.strip().lower() != email:
            return Verification(400, "This link is for an address the account no longer uses.")
        if row.user.email.strip().lower() != email:
            return Verification(400, "This link is for an address the account no longer uses.")
        if row.verified_at is None:
            row.verified_at = timezone.now()
            row.save(update_fields=["verified_at"])
    return Verification(200, f"Thank you: {row.email} is confirmed.", user=row.user)


def verification_resend(*, user: AbstractBaseUser) -> bool:
    """Email a new verification link. False when there is nothing to confirm."""
    if not user.email or selectors.email_verified(user=user):
        return False
    with transaction.atomic():
        verification_requested.send(sender=user.__class__, user=user)
    return True


def email_address_set(*, user: AbstractBaseUser, email: str, verified: bool = False) -> EmailAddress:
    """Give an account an address (admin, tests, management): unverified unless ``verified``."""
    email = email.strip()
    with transaction.atomic():
        if EmailAddress.objects.filter(email__iexact=email).exclude(user=user).exists():
            raise EmailTaken(email)
        user.email = email
        user.save(update_fields=["email"])
        row, _ = EmailAddress.objects.update_or_create(
            user=user, defaults={"email": email, "verified_at": timezone.now() if verified else None}
        )
    return row


# --- password reset ------------------------------------------------------------------------------


def password_reset_request(*, email: str) -> bool:
    """Ask for one reset email to the one account whose confirmed address this is.

    At most one account holds a confirmed address (the constraint), so one request makes at most
    one email, whatever number of old accounts carry the address in ``User.email``. The email is a
    notification: a job on the fast queue, sent by a worker, never by this web process. False
    (and nothing sent) for an unknown or unconfirmed address; the caller answers the same either way.
    """
    user = selectors.verified_account_for(email=email)
    if user is None or not user.has_usable_password():
        return False
    with transaction.atomic():
        password_reset_requested.send(sender=user.__class__, user=user)
    return True


def password_reset_url(*, user: AbstractBaseUser) -> str:
    """Django's own reset link (uid + token, valid PASSWORD_RESET_TIMEOUT, void once used or once
    the password changes), made on the worker when the email is built."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    return settings.SITE_URL + path


# --- time zone -----------------------------------------------------------------------------------


def time_zone_set(*, user: AbstractBaseUser, time_zone: str) -> Profile:
    """Set the person's time zone; listeners (schedules) follow in the same transaction.
    Raises :class:`UnknownTimeZone`."""
    if not zones.is_known(time_zone):
        raise UnknownTimeZone(time_zone)
    with transaction.atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
        changed = profile.time_zone != time_zone
        profile.time_zone = time_zone
        profile.save(update_fields=["time_zone", "updated_at"])
        if changed:
            time_zone_changed.send(sender=user.__class__, user=user, time_zone=time_zone)
    return profile
