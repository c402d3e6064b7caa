"""Password-reset emails go through the notifications queue, one per request and address, and only
to a confirmed address (issue 18.2, 18.3). A real worker, a real SMTP server, real views."""

import re
import time

import pytest
from django.test import Client

from config.accounts.models import EmailAddress
from notifications.models import EmailState, Notification

pytestmark = pytest.mark.django_db(transaction=True)

RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/[^/\s]+/[^/\s]+/)")


def ask_reset(email, client=None):
    return (client or Client()).post("/accounts/password_reset/", {"email": email})


@pytest.mark.broker_roundtrip
def test_six_accounts_on_one_address_get_one_email_from_the_worker(
    celery_worker, smtp, make_user, django_user_model, wait_job
):
    # The oldest holds the confirmed address; five more carry it in User.email (accounts from
    # before addresses were unique: the migration gave them none).
    owner = make_user("first", email="shared@example.com")
    for i in range(5):
        django_user_model.objects.create_user(f"later{i}", "Shared@Example.com", "pw-123456!")
    response = ask_reset("SHARED@example.com")
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"

    [notification] = Notification.objects.filter(kind="password_reset")
    assert notification.recipient == owner
    job = wait_job(notification.job.task_id)
    assert job.state == "SUCCESS" and job.kind == "notifications.email"
    [received] = smtp.wait_for(1)
    time.sleep(0.5)
    assert len(smtp.messages) == 1 and received["to"] == ["shared@example.com"]
    notification.refresh_from_db()
    # Sent by the worker's email job: its Message-ID is the notification's.
    assert received["message"]["Message-ID"] == notification.email_message_id
    assert notification.email_state == EmailState.SENT
    # The link is in the email only, not in the in-app notification.
    assert "/accounts/reset/" not in notification.link + notification.body

    text = received["message"].get_body(preferencelist=("plain",)).get_content()
    [path] = RESET_LINK.findall(text)
    browser = Client()
    form = browser.get(path, follow=True)
    assert form.status_code == 200
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Brand-new-pass-77", "new_password2": "Brand-new-pass-77"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert Client().login(username="first", password="Brand-new-pass-77")
    assert not Client().login(username="later0", password="Brand-new-pass-77")


@pytest.mark.broker_roundtrip
def test_no_reset_email_to_an_unconfirmed_or_unknown_address(celery_worker, smtp, make_user):
    make_user("pending", verified=False)
    answers = [ask_reset("pending@example.com"), ask_reset("nobody@example.com")]
    # The same answer either way: the page tells nobody which addresses have accounts.
    assert {(r.status_code, r["Location"]) for r in answers} == {(302, "/accounts/password_reset/done/")}
    assert not Notification.objects.filter(kind="password_reset").exists()
    time.sleep(1)
    assert smtp.attempts == 0


def test_the_web_process_sends_no_email_itself(make_user, settings):
    # With the locmem backend any email sent in this process would land in mail.outbox.
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    make_user("solo")
    assert ask_reset("solo@example.com").status_code == 302
    assert mail.outbox == []
    assert Notification.objects.get(kind="password_reset").email_state == EmailState.QUEUED


def test_reset_emails_are_not_a_preference(owner_client, user):
    page = owner_client.get("/notifications/preferences/").content.decode()
    assert "Password reset" not in page
    assert EmailAddress.objects.get(user=user).is_verified
