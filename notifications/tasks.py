from celery import shared_task
from celery.exceptions import Ignore

from config.core.errors import TransientError
from config.core.retry import SMTP
from config.core.tasks_backend import MAX_RETRIES as TASK_MAX_RETRIES
from config.core.tasks_backend import TaskContext, job_kind, task

from . import selectors, services


# Retries are explicit rather than autoretry_for: the backoff's base comes from settings (seconds
# in production, a fraction of one in tests) and the last try records the failure for people.
@shared_task(name=services.EMAIL_TASK, bind=True, max_retries=SMTP.max_retries)
def send_email(self, notification_id: int) -> dict:
    notification = selectors.notification_for_email(notification_id=notification_id)
    if notification is None:
        return {"sent": False, "email_state": None}
    try:
        return services.email_send(
            notification=notification, final_attempt=self.request.retries >= SMTP.max_retries
        )
    except services.EmailInFlight:
        # A duplicate delivery while another execution holds the claim. Look again once the claim
        # has expired, in case that execution's process died mid-send; if it finished, the job is
        # final by then and this message is dropped unrun.
        if self.request.retries >= SMTP.max_retries:
            raise Ignore()
        raise self.retry(countdown=services.sending_lease().total_seconds() + 1)
    except TransientError as exc:
        raise self.retry(exc=exc, countdown=SMTP.countdown(self.request.retries))


# The welcome email, written with Django's Tasks API (config/core/tasks_backend.py): the same send,
# on the same workers and queue. "side": sign-up succeeds with the broker down; the job waits QUEUED.
@task(backend="side", queue_name="notifications", takes_context=True)
@job_kind("notifications.email")
def send_welcome_email(context: TaskContext, notification_id: int) -> dict:
    notification = selectors.notification_for_email(notification_id=notification_id)
    if notification is None:
        return {"sent": False, "email_state": None}
    try:
        # attempt counts from 1; the backend retries a TransientError TASK_MAX_RETRIES times.
        return services.email_send(
            notification=notification, final_attempt=context.attempt > TASK_MAX_RETRIES
        )
    except services.EmailInFlight:
        # A duplicate delivery while another execution holds the claim: look again once it expired.
        raise TransientError(
            "another execution is sending this email",
            retry_after=services.sending_lease().total_seconds() + 1,
        ) from None
