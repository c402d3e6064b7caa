"""The pure email builder and the SMTP error classifier: no database, no network."""

import smtplib

import pytest

from notifications import emails
from notifications.services import classify_smtp_error

INJECTION = "eve\nBcc: x@example.com"


def build(**overrides):
    values = {
        "kind": "export_ready",
        "title": "Your export “March orders” is ready",
        "body": "42 rows.\nDownload it within a day.",
        "link": "/reports/7/download/?sig=abc",
        "recipient_name": "alice",
        "site_name": "Backroom",
        "site_url": "https://backroom.example",
        "unsubscribe_url": "https://backroom.example/notifications/unsubscribe/tok/",
        "preferences_url": "https://backroom.example/notifications/preferences/",
        "message_id": "<notification-1-1@backroom.example>",
    }
    values.update(overrides)
    return emails.build_email(**values)


@pytest.mark.parametrize(
    "value",
    ["a\nBcc: x@example.com", "a\r\nBcc: x@example.com", "a\rBcc: x", "a\x00\x0bBcc", "a\u2028Bcc: x"],
)
def test_header_safe_leaves_one_line(value):
    cleaned = emails.header_safe(value)
    assert cleaned.startswith("a ") and "Bcc" in cleaned
    assert not any(c in cleaned for c in "\r\n\x00\x0b\u2028")


def test_export_email_has_both_parts_absolute_link_and_unsubscribe():
    content = build()
    assert content.subject == "Your export “March orders” is ready"
    link = "https://backroom.example/reports/7/download/?sig=abc"
    assert link in content.text and "Download it:" in content.text
    assert link.replace("&", "&amp;") in content.html and "Download your export" in content.html
    assert "stops working after a while" in content.html
    for part in (content.text, content.html):
        assert "Backroom" in part
        assert "https://backroom.example/notifications/unsubscribe/tok/" in part
    assert content.headers["List-Unsubscribe"] == "<https://backroom.example/notifications/unsubscribe/tok/>"


def test_html_part_escapes_user_text_and_text_part_does_not():
    content = build(kind="general", title="<b>x</b> & y", body="<script>alert(1)</script>")
    assert "<script>" not in content.html and "&lt;script&gt;" in content.html
    assert "<script>alert(1)</script>" in content.text
    assert "&amp;" not in content.text


def test_unknown_kind_falls_back_to_the_generic_template():
    content = build(kind="something_new", link="")
    assert content.text.startswith("Your export")
    assert "Stop emails like this" in content.text


def test_injection_in_title_and_name_stays_in_one_header_and_one_recipient():
    content = build(kind="welcome", title=f"Welcome to Backroom, {INJECTION}", recipient_name=INJECTION)
    message = emails.build_message(
        content, to_address="eve@example.com", to_name=INJECTION, from_email="Backroom <n@b.example>"
    )
    assert message.recipients() == ['"eve Bcc: x@example.com" <eve@example.com>']
    raw = message.message().as_string()
    header_block = raw.split("\n\n", 1)[0]
    assert "\nBcc:" not in header_block and not header_block.startswith("Bcc:")
    assert message.message()["Subject"] == "Welcome to Backroom, eve Bcc: x@example.com"
    assert "Hello eve Bcc: x@example.com" in content.text


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@example.com\nBcc: x@example.com"])
def test_unusable_address_is_refused(address):
    with pytest.raises(emails.InvalidAddress):
        emails.checked_address(address)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (smtplib.SMTPDataError(421, b"Try later"), True),
        (smtplib.SMTPSenderRefused(451, b"Local error", "n@b.example"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"), True),
        (TimeoutError("timed out"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (smtplib.SMTPDataError(550, b"Rejected"), False),
        (smtplib.SMTPAuthenticationError(535, b"Bad credentials"), False),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"No such user")}), False),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"Mailbox busy")}), True),
        (ValueError("a bug"), None),
    ],
)
def test_smtp_errors_are_classified(exc, transient):
    got, message = classify_smtp_error(exc)
    assert got is transient
    if transient is not None:
        assert message and "\n" not in message
