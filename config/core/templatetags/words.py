"""``{% load words %}``: ``{{ job.state|state_word }}`` and ``{{ job.kind|kind_name }}``."""

from django import template

from config.core import humanize, words

register = template.Library()
register.filter("state_word", words.state_word)
register.filter("kind_name", words.kind_name)


@register.filter
def counted(n: int, word: str) -> str:
    """``{{ export.rows|counted:"row" }}``: "1 row", "20,000 rows" (config.core.humanize.plural)."""
    return humanize.plural(n, word)
