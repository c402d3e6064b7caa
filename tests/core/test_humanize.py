"""Numbers as people read them, said one way everywhere (config.core.humanize)."""

from config.core import humanize


def test_percent():
    assert humanize.percent(1, 3) == 33.3
    assert humanize.percent(None, 4) == 0.0
    assert humanize.percent(4, 4) == 100.0
    assert humanize.percent(0, 0) is None and humanize.percent(3, None) is None


def test_plural():
    assert humanize.plural(1, "row") == "1 row"
    assert humanize.plural(0, "row") == "0 rows"
    assert humanize.plural(20_000, "row") == "20,000 rows"


def test_human_bytes():
    assert humanize.human_bytes(512) == "512 bytes"
    assert humanize.human_bytes(10 * 1024 * 1024) == "10.0 MB"
    # The chart axes' short form (moved here from tests/ops/test_charts.py).
    assert humanize.human_bytes(512, short=True) == "512 B"
    assert humanize.human_bytes(1536, short=True) == "1.5 KB"
    assert humanize.human_bytes(3 * 1024**3, short=True) == "3.0 GB"


def test_human_duration():
    assert humanize.human_duration(3600) == "1 hour"
    assert humanize.human_duration(24 * 3600) == "24 hours"
    assert humanize.human_duration(90 * 60) == "90 minutes"
    assert humanize.human_duration(30) == "1 minute"


def test_counted_filter_in_templates():
    from django.template import engines

    page = engines["django"].from_string('{% load words %}{{ a|counted:"row" }}; {{ b|counted:"row" }}')
    assert page.render({"a": 1, "b": 20000}) == "1 row; 20,000 rows"
