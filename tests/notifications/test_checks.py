"""`manage.py check` refuses an EMAIL_TIMEOUT whose sending lease outlasts the longest retry wait."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_default_email_timeout_passes(settings):
    call_command("check", "notifications")


def test_email_timeout_beyond_max_countdown_is_an_error(settings):
    settings.EMAIL_TIMEOUT = 120  # a 721 s lease wait against BACKROOM_MAX_COUNTDOWN's 600 s
    with pytest.raises(SystemCheckError, match=r"notifications\.E001"):
        call_command("check", "notifications")
