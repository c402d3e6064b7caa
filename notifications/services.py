"""Placeholder until issue 5 lands: the signatures the other apps call."""

import logging

logger = logging.getLogger(__name__)


def notify_welcome(*, user) -> None:
    logger.info("welcome notification for %s not built yet (issue 5)", user.pk)


def notify(*, user, kind: str, title: str, body: str, link: str | None = None) -> None:
    logger.info("notification %s for %s not built yet (issue 5)", kind, user.pk)
