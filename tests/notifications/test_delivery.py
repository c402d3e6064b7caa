"""Emails sent by a real worker, through a real Redis, to a real SMTP server (aiosmtpd)."""

import time

import pytest
from django.db import transaction

from config.celery_app import app
from notifications import services
from notifications.models import EmailState, Notification

pytestmark = pytest.mark.django_db(transaction=True)

INJECTION = "eve\nBcc: x@example.com"


def notify(user, **extra):
    values = {"kind": "export_ready", "title": "Your export is ready", "body": "12 rows.", "link": "/r/1/"}
    values.update(extra)
    with transaction.atomic():
        return services.notify(user=user, **values)


def settled(wait_job, notification, timeout=60):
    job = wait_job(notification.job.task_id, timeout=timeout)
    notification.refresh_from_db()
    return job, notification


def parts(received):
    message = received["message"]
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


@pytest.mark.broker_roundtrip
def test_sign_up_sends_the_welcome_email_with_both_parts(celery_worker, smtp, client, wait_job, settings):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "Sturdy-pass-91",
            "password2": "Sturdy-pass-91",
        },
    )
    assert response.status_code == 302
    notification = Notification.objects.get(recipient__username="newbie", kind="welcome")
    job, notification = settled(wait_job, notification)
    assert job.state == "SUCCESS" and job.kind == "notifications.email"
    [received] = smtp.wait_for(1)
    assert received["to"] == ["newbie@example.com"]
    message = received["message"]
    assert message["Subject"] == f"Welcome to {settings.SITE_NAME}, newbie"
    assert message["Message-ID"] == notification.email_message_id
    assert message["List-Unsubscribe"].strip().startswith(f"<{settings.SITE_URL}/notifications/unsubscribe/")
    text, html = parts(received)
    for part in (text, html):
        assert "newbie" in part and settings.SITE_NAME in part and settings.SITE_URL in part
        assert "/notifications/unsubscribe/" in part
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert notification.email_state == EmailState.SENT and notification.email_attempts == 1
    assert notification.email_sent_at is not None
    # In-app as well: the new user's badge shows it.
    assert client.get("/notifications/unread-count/", HTTP_ACCEPT="application/json").json() == {"unread": 1}


def test_421_twice_then_delivered_on_the_third_try(celery_worker, smtp, user, wait_job):
    smtp.script = ["421 4.3.2 Try later", "421 4.3.2 Try later"]
    job, notification = settled(wait_job, notify(user))
    assert job.state == "SUCCESS"
    assert smtp.attempts == 3 and len(smtp.messages) == 1
    assert notification.email_state == EmailState.SENT and notification.email_attempts == 3
    assert job.attempts == 3
    assert smtp.messages[0]["message"]["Subject"] == "Your export is ready"


def test_refused_address_gets_one_try_and_the_failure_shows(celery_worker, smtp, user, wait_job, client):
    smtp.refuse = {user.email}
    job, notification = settled(wait_job, notify(user))
    assert job.state == "FAILURE" and job.attempts == 1
    assert smtp.rcpts == [user.email] and smtp.messages == []
    assert notification.email_state == EmailState.FAILED and notification.email_attempts == 1
    assert "refused the address" in notification.email_error and "550" in notification.email_error
    assert job.error == notification.email_error
    client.force_login(user)
    page = client.get("/notifications/").content.decode()
    assert "email failed" in page and "refused the address" in page


def test_550_after_data_is_permanent(celery_worker, smtp, user, wait_job):
    smtp.script = ["550 5.7.1 Message rejected as spam"]
    job, notification = settled(wait_job, notify(user))
    assert job.state == "FAILURE" and job.attempts == 1 and smtp.attempts == 1
    assert notification.email_state == EmailState.FAILED
    assert "rejected this email (550 5.7.1 Message rejected as spam)" in notification.email_error


def test_silent_server_times_out_and_the_retry_delivers(celery_worker, smtp, user, wait_job):
    smtp.script = ["silent"]
    job, notification = settled(wait_job, notify(user), timeout=90)
    assert job.state == "SUCCESS" and job.attempts == 2
    assert smtp.attempts == 2 and len(smtp.messages) == 1
    assert notification.email_state == EmailState.SENT and notification.email_attempts == 2


def test_temporary_failures_give_up_after_five_retries(celery_worker, smtp, user, wait_job):
    smtp.script = ["451 4.3.0 Temporary local problem"] * 6
    job, notification = settled(wait_job, notify(user), timeout=120)
    assert job.state == "FAILURE" and job.attempts == 6 and smtp.attempts == 6
    assert notification.email_state == EmailState.FAILED and notification.email_attempts == 6
    assert notification.email_error.startswith("Gave up after 6 tries.")
    assert smtp.messages == []


def test_duplicate_delivery_after_it_was_sent_sends_nothing(celery_worker, smtp, user, wait_job):
    job, notification = settled(wait_job, notify(user))
    assert job.state == "SUCCESS"
    smtp.wait_for(1)
    # The same message again (a redelivery) and a second job for the same notification.
    app.send_task("notifications.send_email", args=[notification.pk], task_id=job.task_id)
    with transaction.atomic():
        from config.core.services import job_create

        second = job_create(
            owner=user,
            kind="notifications.email",
            task_name="notifications.send_email",
            args=[notification.pk],
        )
    assert wait_job(second.task_id).result == {"sent": False, "email_state": "sent"}
    time.sleep(1)  # give a wrongful second email time to arrive before counting
    assert len(smtp.messages) == 1 and smtp.attempts == 1
    notification.refresh_from_db()
    assert notification.email_attempts == 1


def test_duplicate_delivery_while_the_first_is_sending_sends_one_email(celery_worker, smtp, user, wait_job):
    smtp.script = ["delay 2"]
    notification = notify(user)
    deadline = time.monotonic() + 30
    while Notification.objects.get(pk=notification.pk).email_state != EmailState.SENDING:
        assert time.monotonic() < deadline, "the email was never claimed"
        time.sleep(0.02)
    app.send_task("notifications.send_email", args=[notification.pk], task_id=notification.job.task_id)
    job, notification = settled(wait_job, notification)
    assert job.state == "SUCCESS"
    time.sleep(1)
    assert len(smtp.messages) == 1 and smtp.attempts == 1
    assert notification.email_state == EmailState.SENT and notification.email_attempts == 1
    # The duplicate did not run beside the first: the job lease (config/core/leases.py) held it
    # back and re-queued it for later, when it finds the job finished and does nothing. Had the
    # lease been bypassed, the email claim (queued → sending) would still have stopped a second send.
    assert job.attempts == 1
    app.control.revoke(job.task_id)


def test_newline_in_a_name_cannot_add_a_header(celery_worker, smtp, make_user, wait_job):
    eve = make_user(INJECTION, email="eve@example.com", first_name=INJECTION)
    with transaction.atomic():
        notification = services.notify_welcome(user=eve)
    job, notification = settled(wait_job, notification)
    assert job.state == "SUCCESS"
    [received] = smtp.wait_for(1)
    assert received["to"] == ["eve@example.com"] and smtp.rcpts == ["eve@example.com"]
    message = received["message"]
    assert message.get_all("Bcc") is None
    assert [k.lower() for k in message.keys()].count("to") == 1
    # The name stays a quoted display name: one address, eve's.
    assert [a.addr_spec for a in message["To"].addresses] == ["eve@example.com"]
    assert "\n" not in message["Subject"] and message["Subject"].endswith("eve Bcc: x@example.com")
    header_block = received["raw"].split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block and b"\nBcc:" not in header_block


def test_preference_off_means_in_app_only(celery_worker, smtp, user, wait_job):
    services.preference_set(user=user, kind="export_ready", email_enabled=False)
    notification = notify(user)
    assert notification.email_state == EmailState.SKIPPED and notification.job is None
    # Other kinds still email.
    job, other = settled(wait_job, notify(user, kind="images_ready", title="Your images are ready"))
    assert job.state == "SUCCESS" and other.email_state == EmailState.SENT
    assert [m["message"]["Subject"] for m in smtp.wait_for(1)] == ["Your images are ready"]


def test_turned_off_after_queueing_is_skipped_at_send_time(celery_worker, smtp, user, wait_job):
    with transaction.atomic():
        notification = services.notify(user=user, kind="export_ready", title="Ready")
        services.preference_set(user=user, kind="export_ready", email_enabled=False)
    job, notification = settled(wait_job, notification)
    assert job.state == "SUCCESS" and notification.email_state == EmailState.SKIPPED
    assert smtp.attempts == 0


def test_same_key_notifies_once(celery_worker, smtp, user, wait_job):
    first = notify(user, kind="images_ready", title="Your images are ready", key="batch:9")
    again = notify(user, kind="images_ready", title="Your images are ready", key="batch:9")
    assert again.pk == first.pk
    assert Notification.objects.filter(recipient=user).count() == 1
    settled(wait_job, first)
    assert len(smtp.wait_for(1)) == 1


def test_sign_up_succeeds_with_the_broker_down_and_the_email_follows(celery_worker, smtp, client, wait_job):
    from config.core import devredis
    from config.core.services import job_redispatch
    from tests.harness import publishing_to

    form = {"username": "offline", "email": "offline@example.com"}
    form.update(password1="Sturdy-pass-91", password2="Sturdy-pass-91")
    with publishing_to(f"redis://127.0.0.1:{devredis.free_port()}/0"):
        response = client.post("/accounts/signup/", form)
    assert response.status_code == 302
    notification = Notification.objects.get(recipient__username="offline")
    assert notification.email_state == EmailState.QUEUED
    assert notification.job.state == "QUEUED" and notification.job.sent_at is None
    # The broker is back: the re-dispatcher sends it (ops runs this every minute).
    assert job_redispatch(older_than_seconds=0) >= 1
    job, notification = settled(wait_job, notification)
    assert job.state == "SUCCESS" and notification.email_state == EmailState.SENT
    assert smtp.wait_for(1)[0]["to"] == ["offline@example.com"]
