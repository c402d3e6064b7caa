"""Addresses are unique in any letter case, and unconfirmed until the welcome email's link is
followed; until then nothing but that link is emailed to them (issue 18.3). Real views, a real
worker and a real SMTP server."""

import re
import time
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from config.accounts.models import EmailAddress
from notifications import services as notifications
from notifications.models import EmailState, Notification

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Sturdy-pass-91"
LINK = re.compile(r"https?://\S+/accounts/verify/[^/\s]+/")


def sign_up(client, username, email):
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def text_of(received) -> str:
    return received["message"].get_body(preferencelist=("plain",)).get_content()


def notify_export(user):
    with transaction.atomic():
        return notifications.notify(user=user, kind="export_ready", title="Your export is ready")


def test_sign_up_refuses_an_address_in_use_in_any_letter_case(client, django_user_model):
    assert sign_up(client, "alice", "alice@example.com").status_code == 302
    again = sign_up(Client(), "alice2", "ALICE@EXAMPLE.COM")
    assert again.status_code == 400
    assert "An account with this address exists already" in again.content.decode()
    assert not django_user_model.objects.filter(username="alice2").exists()


def test_the_database_refuses_a_second_account_on_an_address_in_another_case(django_user_model):
    one = django_user_model.objects.create_user("one", "bob@example.com", PASSWORD)
    two = django_user_model.objects.create_user("two", "Bob@Example.COM", PASSWORD)
    EmailAddress.objects.create(user=one, email=one.email)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAddress.objects.create(user=two, email=two.email)


def test_the_migration_keeps_the_oldest_account_on_a_shared_address(django_user_model):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", "accounts", "zero", verbosity=0)
    try:
        now = timezone.now()
        made = {}
        for name, email, age in [
            ("newer", "Shared@Example.com", 1),
            ("oldest", "shared@example.com", 30),
            ("middle", "SHARED@EXAMPLE.COM", 10),
            ("alone", "alone@example.com", 5),
            ("nobody", "", 5),
        ]:
            made[name] = django_user_model.objects.create_user(name, email, PASSWORD)
            django_user_model.objects.filter(pk=made[name].pk).update(date_joined=now - timedelta(days=age))
    finally:
        call_command("migrate", "accounts", verbosity=0)
    rows = {row.user.username: row for row in EmailAddress.objects.select_related("user")}
    assert set(rows) == {"oldest", "alone"}
    assert rows["oldest"].email == "shared@example.com" and rows["oldest"].is_verified
    assert rows["alone"].is_verified
    # The others keep their User.email for the admin to see, and are unverified: never emailed.
    from config.accounts.selectors import email_verified

    # (create_user lowered the domain.)
    assert django_user_model.objects.get(username="newer").email == "Shared@example.com"
    assert not email_verified(user=made["newer"]) and not email_verified(user=made["middle"])


@pytest.mark.broker_roundtrip
def test_only_the_welcome_link_is_emailed_until_it_is_followed(celery_worker, smtp, client, wait_job):
    assert sign_up(client, "newbie", "newbie@example.com").status_code == 302
    user = Notification.objects.get(recipient__username="newbie", kind="welcome").recipient
    welcome = Notification.objects.get(recipient=user, kind="welcome")
    wait_job(welcome.job.task_id)
    [received] = smtp.wait_for(1)
    assert received["to"] == ["newbie@example.com"]
    [link] = LINK.findall(text_of(received))
    assert link in received["message"].get_body(preferencelist=("html",)).get_content()
    # The link is for the mailbox only: the in-app notification does not carry it.
    welcome.refresh_from_db()
    assert "/accounts/verify/" not in welcome.link + welcome.body

    # Unconfirmed: an export finishing shows in the app, but no email goes.
    unconfirmed = notify_export(user)
    assert unconfirmed.email_state == EmailState.NONE and unconfirmed.job is None
    assert client.get("/notifications/unread-count/", HTTP_ACCEPT="application/json").json() == {"unread": 2}

    # Followed from another browser, not logged in: the signed link is the proof.
    page = Client().get(link.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and "newbie@example.com is confirmed" in page.content.decode()
    assert EmailAddress.objects.get(user=user).is_verified

    confirmed = notify_export(user)
    wait_job(confirmed.job.task_id)
    confirmed.refresh_from_db()
    assert confirmed.email_state == EmailState.SENT
    assert [m["message"]["Subject"] for m in smtp.wait_for(2)][1] == "Your export is ready"


@pytest.mark.broker_roundtrip
def test_an_email_queued_for_an_address_no_longer_confirmed_is_not_sent(
    celery_worker, smtp, make_user, wait_job
):
    user = make_user("changer")
    with transaction.atomic():
        notification = notifications.notify(user=user, kind="export_ready", title="Ready")
        # Before the worker runs, an admin types a new address: it is not confirmed.
        type(user).objects.filter(pk=user.pk).update(email="someone-else@example.com")
    job = wait_job(notification.job.task_id)
    notification.refresh_from_db()
    assert job.state == "SUCCESS" and notification.email_state == EmailState.NONE
    assert "not confirmed" in notification.email_error
    time.sleep(0.5)
    assert smtp.attempts == 0


@pytest.mark.broker_roundtrip
def test_a_new_link_can_be_asked_for_and_works(celery_worker, smtp, client, wait_job):
    sign_up(client, "late", "late@example.com")
    smtp.wait_for(1)
    assert client.post("/accounts/verify/resend/").status_code == 302
    [_, again] = smtp.wait_for(2)
    assert again["message"]["Subject"] == "Confirm your email address"
    [link] = LINK.findall(text_of(again))
    assert Client().get(link.removeprefix("http://127.0.0.1:8000")).status_code == 200
    assert client.post("/accounts/verify/resend/").status_code == 302
    time.sleep(0.5)
    assert len(smtp.messages) == 2  # confirmed: nothing more to send


def test_forged_stale_and_repurposed_links_confirm_nothing(make_user, settings):
    from django.core import signing

    from config.accounts.services import verification_token

    user = make_user("pending", verified=False)
    good = verification_token(user=user)
    for token in [good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x" * 40]:
        assert Client().get(f"/accounts/verify/{token}/").status_code == 400
    # Signed for another purpose (an unsubscribe link) is no verification link.
    other = signing.dumps([user.pk, user.email], salt="notifications.unsubscribe")
    assert Client().get(f"/accounts/verify/{other}/").status_code == 400
    past = time.time() - settings.ACCOUNTS_VERIFY_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=past):
        old = verification_token(user=user)
    stale = Client().get(f"/accounts/verify/{old}/")
    assert stale.status_code == 410 and "expired" in stale.content.decode()
    # A link made for the old address does not confirm a new one.
    type(user).objects.filter(pk=user.pk).update(email="new@example.com")
    EmailAddress.objects.filter(user=user).update(email="new@example.com")
    assert Client().get(f"/accounts/verify/{good}/").status_code == 400
    assert not EmailAddress.objects.get(user=user).is_verified


def test_the_settings_page_offers_a_new_link_only_while_unconfirmed(make_user):
    pending, confirmed = Client(), Client()
    pending.force_login(make_user("unsure", verified=False))
    confirmed.force_login(make_user("sure"))
    assert "Send a new link" in pending.get("/notifications/preferences/").content.decode()
    assert "Send a new link" not in confirmed.get("/notifications/preferences/").content.decode()
