"""``{% load times %}``: ``{{ moment|when }}`` (relative words, the zoned date on hover and for
screen readers' datetime), ``{{ moment|zoned }}`` (config.core.times) and ``{{ ms|duration_ms }}``
(config.core.humanize)."""

from django import template
from django.utils.html import format_html

from config.core import humanize, times

register = template.Library()


@register.filter
def when(value):
    if not value:
        return ""
    full = times.zoned(value)
    words = times.relative(value)
    if words is None:
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), full)
    return format_html(
        '<time datetime="{}" title="{}" data-relative>{}</time>', value.isoformat(), full, words
    )


@register.filter
def zoned(value):
    return times.zoned(value) if value else ""


register.filter("duration_ms", humanize.duration_ms)
