"""Build notification emails from templates and plain values. No ORM, no network.

Anything that reaches a header (subject, display name, ids) goes through :func:`header_safe`, so a
title, a user name or a file name holding "\\nBcc: …" stays one line of text and never a header.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from email.utils import formataddr
from urllib.parse import urljoin

from django.core.mail import EmailMultiAlternatives
from django.template.loader import select_template

_SPACES = re.compile(r"\s+")


def header_safe(value: str, max_length: int = 200) -> str:
    """One line of text: control characters (CR, LF, TAB, NUL…) and line/paragraph separators
    become spaces, runs of spaces collapse."""
    chars = (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in str(value))
    return _SPACES.sub(" ", "".join(chars)).strip()[:max_length]


def absolute_url(link: str, site_url: str) -> str:
    """A link for an email, where there is no page to be relative to."""
    if not link:
        return ""
    return urljoin(site_url.rstrip("/") + "/", link)


class InvalidAddress(ValueError):
    pass


def checked_address(address: str) -> str:
    address = (address or "").strip()
    if not address or "@" not in address or any(unicodedata.category(c) == "Cc" for c in address):
        raise InvalidAddress(address)
    return address


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def build_email(
    *,
    kind: str,
    title: str,
    body: str,
    link: str,
    recipient_name: str,
    site_name: str,
    site_url: str,
    unsubscribe_url: str,
    preferences_url: str,
    message_id: str,
    private_link: str = "",
) -> EmailContent:
    """Subject, plain text and HTML for one notification, from notifications/email/<kind>.*."""
    context = {
        "kind": kind,
        "title": header_safe(title),
        "body": body,
        "link": absolute_url(link, site_url),
        "name": header_safe(recipient_name, 100),
        "site_name": header_safe(site_name, 100),
        "site_url": site_url,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        # For the mailbox only (confirm the address, reset a password): never in the in-app copy.
        "private_link": private_link,
    }
    text_template = select_template([f"notifications/email/{kind}.txt", "notifications/email/generic.txt"])
    html_template = select_template([f"notifications/email/{kind}.html", "notifications/email/generic.html"])
    return EmailContent(
        subject=header_safe(title, 250),
        text=text_template.render(context),
        html=html_template.render(context),
        headers={
            "Message-ID": header_safe(message_id, 250),
            "List-Unsubscribe": f"<{header_safe(unsubscribe_url, 900)}>",
            "Auto-Submitted": "auto-generated",
        },
    )


def build_message(
    content: EmailContent, *, to_address: str, to_name: str, from_email: str, connection=None
) -> EmailMultiAlternatives:
    """One message to exactly one recipient: text part, HTML alternative, our headers."""
    to = formataddr((header_safe(to_name, 100), checked_address(to_address)))
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=content.text,
        from_email=from_email,
        to=[to],
        headers=dict(content.headers),
        connection=connection,
    )
    message.attach_alternative(content.html, "text/html")
    return message
