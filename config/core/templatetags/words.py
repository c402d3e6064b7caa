"""``{% load words %}``: ``{{ job.state|state_word }}`` and ``{{ job.kind|kind_name }}``."""

from django import template

from config.core import words

register = template.Library()
register.filter("state_word", words.state_word)
register.filter("kind_name", words.kind_name)
