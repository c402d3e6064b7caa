"""Every write of the notifications app: notify, read state, preferences, and the email send.

Other apps call :func:`notify` (and sign-up calls :func:`notify_welcome`) inside their own
transaction; the email task is sent only once that transaction commits.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from config.accounts import selectors as accounts
from config.accounts import services as accounts_services
from config.core.errors import HumanError, TransientError
from config.core.models import Job
from config.core.services import job_create
from config.core.tasks_backend import owned_by

from . import emails, selectors
from .models import EmailState, Kind, Notification, Preference

logger = logging.getLogger(__name__)

EMAIL_TASK = "notifications.send_email"
# The only email an unconfirmed address gets: the welcome, which carries the link that confirms it.
# Everything else waits for the owner to prove the mailbox is theirs (issue 18.3); in-app, all shows.
TO_UNVERIFIED = frozenset({Kind.WELCOME})
NOT_VERIFIED = "Not emailed: the address is not confirmed yet."


class EmailInFlight(Exception):
    """Another live execution has claimed this notification's email (a duplicate delivery)."""


# --- notify --------------------------------------------------------------------------------------


def notify(
    *,
    user: AbstractBaseUser,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    key: str = "",
    email: bool = True,
) -> Notification:
    """Store an in-app notification and, if the user's preferences allow, queue its email.

    ``key`` makes the call idempotent per (user, kind, key), e.g. ``key=f"batch:{batch.pk}"`` so a
    batch finishing twice notifies once. The title is kept to one line: it becomes the subject.
    """
    if kind not in Kind.values:
        logger.warning("unknown notification kind %r stored as %r", kind, Kind.GENERAL)
        kind = Kind.GENERAL
    key = emails.header_safe(key, 100)
    with transaction.atomic():
        if key:
            existing = Notification.objects.filter(recipient=user, kind=kind, key=key).first()
            if existing is not None:
                return existing
        if not email:
            state = EmailState.NONE
        elif not selectors.email_enabled(user=user, kind=kind):
            state = EmailState.SKIPPED
        elif not _has_address(user):
            state = EmailState.NONE
        elif kind not in TO_UNVERIFIED and not accounts.email_verified(user=user):
            state = EmailState.NONE
        else:
            state = EmailState.QUEUED
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=user,
                    kind=kind,
                    title=emails.header_safe(title) or Kind(kind).label,
                    body=body or "",
                    link=_safe_link(link),
                    key=key,
                    email_state=state,
                )
        except IntegrityError:
            if not key:
                raise
            # The same key raced us in another transaction; that one notifies.
            return Notification.objects.get(recipient=user, kind=kind, key=key)
        if state == EmailState.QUEUED:
            _queue_email(notification)
    return notification


def notify_welcome(*, user: AbstractBaseUser) -> Notification:
    site = settings.SITE_NAME
    return notify(
        user=user,
        kind=Kind.WELCOME,
        title=f"Welcome to {site}, {user.get_username()}",
        body=(
            f"Welcome to {site}: your account is ready. Upload photos and we make web-sized copies for you; "
            "ask for an Excel report and we build it in the background. We tell you here, and by "
            "email, when something is ready."
        ),
        link="/",
        key="welcome",
    )


def notify_password_reset(*, user: AbstractBaseUser) -> Notification:
    """The reset link goes by email only (made on the worker, see private_link_for); in-app, the
    owner sees that someone asked."""
    return notify(
        user=user,
        kind=Kind.PASSWORD_RESET,
        title="Reset your password",
        body=(
            "Someone, we hope you, asked to reset the password of your account. If it was not you, "
            "ignore this: your password stays as it is."
        ),
    )


def notify_verification(*, user: AbstractBaseUser) -> Notification:
    """A new link that confirms the address (asked for by its owner). Not keyed: each ask sends one."""
    return notify(
        user=user,
        kind=Kind.WELCOME,
        title="Confirm your email address",
        body="We have emailed you a link. Follow it to confirm that the address is yours.",
        link="/",
    )


def _queue_email(notification: Notification) -> None:
    # A down broker must not break sign-up or an export finishing: the job stays QUEUED and the
    # re-dispatcher sends it later.
    if notification.kind == Kind.WELCOME and notification.key == "welcome":
        # The welcome email is a Django @task (notifications/tasks.py): the Tasks API on our job layer.

        from .tasks import send_welcome_email  # noqa: PLC0415 - cycle: notifications.tasks imports this module

        with owned_by(notification.recipient):
            result = send_welcome_email.enqueue(notification.pk)
        job = Job.objects.get(task_id=result.id)
    else:
        job = job_create(
            owner=notification.recipient,
            kind="notifications.email",
            task_name=EMAIL_TASK,
            args=[notification.pk],
            defer_if_broker_down=True,
        )
    Notification.objects.filter(pk=notification.pk).update(job=job)
    notification.job = job


def _safe_link(link: str | None) -> str:
    """A path on this site or an http(s) URL; anything else (javascript:, data:) is dropped."""
    link = (link or "").strip()
    return link if link.startswith(("/", "https://", "http://")) and not link.startswith("//") else ""


def _has_address(user: AbstractBaseUser) -> bool:
    try:
        emails.checked_address(getattr(user, "email", ""))
    except emails.InvalidAddress:
        return False
    return True


# --- read state and preferences -------------------------------------------------------------------


def notification_mark_read(*, user: AbstractBaseUser, notification_id: int) -> bool:
    """Mark one of the user's notifications read. False if it is not theirs (or not there)."""
    mine = Notification.objects.filter(recipient_id=user.pk, pk=notification_id)
    mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    return mine.exists()


def notifications_mark_all_read(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def preference_set(*, user: AbstractBaseUser, kind: str, email_enabled: bool) -> Preference:
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    preference, _ = Preference.objects.update_or_create(
        user=user, kind=kind, defaults={"email_enabled": email_enabled}
    )
    return preference


def preferences_set(*, user: AbstractBaseUser, email_enabled: dict[str, bool]) -> None:
    with transaction.atomic():
        for kind, enabled in email_enabled.items():
            preference_set(user=user, kind=kind, email_enabled=enabled)


def emails_resend(*, notifications: list[Notification]) -> int:
    """Queue failed emails again (admin action). Returns how many were queued."""
    count = 0
    for notification in notifications:
        with transaction.atomic():
            moved = Notification.objects.filter(pk=notification.pk, email_state=EmailState.FAILED).update(
                email_state=EmailState.QUEUED, email_error="", email_claimed_at=None
            )
            if moved:
                _queue_email(notification)
                count += 1
    return count


# --- the email send (runs on the worker) ----------------------------------------------------------


def sending_lease() -> timedelta:
    """How long a claim to send holds. Every SMTP step is bounded by EMAIL_TIMEOUT, so a claim
    older than this belongs to an execution whose process died; a redelivery may take it over."""
    return timedelta(seconds=max(60, 6 * settings.EMAIL_TIMEOUT))


def email_send(*, notification: Notification, final_attempt: bool = False) -> dict[str, Any]:
    """Send one notification's email, at most once.

    The execution that moves the row from ``queued`` to ``sending`` (one conditional UPDATE) is
    the only one that sends; a duplicate delivery finds ``sent``/``failed``/``skipped`` and does
    nothing, or ``sending`` and raises :class:`EmailInFlight`. Temporary SMTP failures put the row
    back to ``queued`` and raise :class:`TransientError` (the task retries it); permanent ones, and
    a temporary one on the ``final_attempt``, record ``failed`` and raise :class:`HumanError`.
    """
    claimed_at = timezone.now()
    mine = Notification.objects.filter(pk=notification.pk)
    if not _email_claim(mine, claimed_at=claimed_at):
        state = mine.values_list("email_state", flat=True).first()
        if state == EmailState.SENDING:
            raise EmailInFlight(notification.pk)
        return {"sent": False, "email_state": state}
    notification.refresh_from_db()

    def settle(state: str, **values) -> None:
        # Only while our claim holds: an execution presumed dead must not overwrite the next one.
        mine.filter(email_state=EmailState.SENDING, email_claimed_at=claimed_at).update(
            email_state=state, **values
        )

    unsent = _email_unwanted(notification, settle)
    if unsent is not None:
        return {"sent": False, "email_state": unsent}
    message = _email_message(notification, settle)
    _email_deliver(message, notification, settle, final_attempt=final_attempt)
    message_id = message.extra_headers["Message-ID"]
    settle(EmailState.SENT, email_sent_at=timezone.now(), email_message_id=message_id, email_error="")
    return {"sent": True, "message_id": message_id, "attempts": notification.email_attempts}


def _email_claim(mine, *, claimed_at) -> bool:
    """Move the row to ``sending`` (from ``queued``, or from a claim older than the lease): the
    one conditional UPDATE that makes this execution the only sender."""
    return bool(
        mine.filter(
            Q(email_state=EmailState.QUEUED)
            | Q(email_state=EmailState.SENDING, email_claimed_at__lt=claimed_at - sending_lease())
        ).update(
            email_state=EmailState.SENDING,
            email_claimed_at=claimed_at,
            email_attempts=F("email_attempts") + 1,
        )
    )


def _email_unwanted(notification: Notification, settle: Callable[..., None]) -> str | None:
    """The state to settle on when this email is not to go out (turned off, address unconfirmed)."""
    user = notification.recipient
    if not selectors.email_enabled(user=user, kind=notification.kind):
        settle(EmailState.SKIPPED)
        return EmailState.SKIPPED
    # Asked again at send time: the address may have changed since the email was queued.
    if notification.kind not in TO_UNVERIFIED and not accounts.email_verified(user=user):
        settle(EmailState.NONE, email_error=NOT_VERIFIED)
        return EmailState.NONE
    return None


def _email_message(notification: Notification, settle: Callable[..., None]):
    user = notification.recipient
    try:
        return emails.build_message(
            email_content(notification),
            to_address=user.email,
            to_name=(user.get_full_name() if hasattr(user, "get_full_name") else "") or user.get_username(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            connection=get_connection(fail_silently=False),
        )
    except emails.InvalidAddress:
        error = "This account has no valid email address."
        settle(EmailState.FAILED, email_error=error)
        raise HumanError(error)


def _email_deliver(
    message, notification: Notification, settle: Callable[..., None], *, final_attempt: bool
) -> None:
    """Hand the message to SMTP; a failure settles the row (back to ``queued`` for a retry, or
    ``failed``) and raises TransientError or HumanError."""
    try:
        message.send()
    except Exception as exc:
        transient, error = classify_smtp_error(exc)
        if transient is None:
            settle(EmailState.FAILED, email_error="We could not send this email; the details are logged.")
            raise
        if transient and not final_attempt:
            settle(EmailState.QUEUED, email_error=f"Will retry: {error}"[:500])
            raise TransientError(error) from exc
        if transient:
            error = f"Gave up after {notification.email_attempts} tries. {error}"
        settle(EmailState.FAILED, email_error=error[:500])
        raise HumanError(error[:500]) from exc


def email_content(notification: Notification) -> emails.EmailContent:
    user = notification.recipient
    token = selectors.unsubscribe_token(user=user, kind=notification.kind)
    site_url = settings.SITE_URL
    # Any time a template shows is in the recipient's own zone (the worker has no request).
    with timezone.override(accounts.time_zone_info(user=user)):
        return _build_email(notification, user, token, site_url)


def _build_email(notification: Notification, user, token: str, site_url: str) -> emails.EmailContent:
    return emails.build_email(
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        link=notification.link,
        recipient_name=user.get_username(),
        site_name=settings.SITE_NAME,
        site_url=site_url,
        unsubscribe_url=site_url + reverse("notifications:unsubscribe", args=[token]),
        preferences_url=site_url + reverse("notifications:preferences"),
        message_id=message_id_for(notification),
        private_link=private_link_for(notification),
    )


def private_link_for(notification: Notification) -> str:
    """A link only the mailbox may see, made now and stored nowhere (not in the in-app notification)."""
    if notification.kind == Kind.WELCOME:
        return accounts_services.verification_url(user=notification.recipient) or ""
    if notification.kind == Kind.PASSWORD_RESET:
        return accounts_services.password_reset_url(user=notification.recipient)
    return ""


def message_id_for(notification: Notification) -> str:
    """The same Message-ID on every try, so a receiver can drop a copy a timeout made us resend."""
    domain = urlparse(settings.SITE_URL).hostname or "backroom.local"
    return f"<notification-{notification.pk}-{int(notification.created_at.timestamp())}@{domain}>"


def classify_smtp_error(exc: BaseException) -> tuple[bool | None, str]:
    """(transient?, a sentence for people). None: not a delivery problem at all (a bug)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        permanent = bool(codes) and all(code >= 500 for code in codes)
        if permanent:
            return False, f"The mail server refused the address ({replies})."
        return True, f"The mail server asked us to try the address later ({replies})."
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            return False, f"The mail server rejected this email ({reply})."
        return True, f"The mail server asked us to try later ({reply})."
    if isinstance(exc, TimeoutError):
        return True, "The mail server did not answer in time."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True, f"The mail server closed the connection ({_text(str(exc))})."
    if isinstance(exc, OSError):  # ConnectionError, refused, DNS, other SMTPException
        return True, f"We could not reach the mail server ({_text(str(exc)) or type(exc).__name__})."
    return None, ""


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return emails.header_safe(str(value), 200)
