"""How pages say moments and durations (issue 22, point 6): relative words, the zone beside a
full date, milliseconds under a second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.template import Context, Template
from django.utils import timezone

from config.core import humanize, times

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_relative_words():
    assert times.relative(NOW - timedelta(seconds=10), NOW) == "just now"
    assert times.relative(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
    assert times.relative(NOW - timedelta(minutes=5, seconds=10), NOW) == "5 minutes ago"
    assert times.relative(NOW - timedelta(hours=3, minutes=59), NOW) == "3 hours ago"
    assert times.relative(NOW + timedelta(hours=2), NOW) == "in 2 hours"
    assert times.relative(NOW - timedelta(days=2), NOW) is None


def test_a_full_date_names_the_viewers_zone():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert times.zoned(NOW) == "1 Dec 2026, 21:00 (Asia/Tokyo)"
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert times.zoned(NOW) == "1 Dec 2026, 13:00 (Europe/Berlin)"


def test_durations_under_a_second_are_milliseconds():
    assert humanize.duration_ms(0) == "0 ms"
    assert humanize.duration_ms(412) == "412 ms"
    assert humanize.duration_ms(1400) == "1.4 s"
    assert humanize.duration_ms(125_000) == "2 min 5 s"
    assert humanize.duration_ms(3_780_000) == "1 h 3 min"


def test_the_when_filter_writes_a_time_element():
    moment = timezone.now() - timedelta(minutes=5)
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        html = Template("{% load times %}{{ m|when }}").render(Context({"m": moment}))
    assert html.startswith(f'<time datetime="{moment.isoformat()}" title="')
    assert "(Asia/Tokyo)" in html and html.endswith(" data-relative>5 minutes ago</time>")
    old = Template("{% load times %}{{ m|when }}").render(Context({"m": NOW - timedelta(days=400)}))
    assert "data-relative" not in old and "(UTC)" in old
