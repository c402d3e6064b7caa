"""Configuration the whole site cannot run safely with, reported by `manage.py check`."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.checks import Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter


def url_patterns(
    resolver: URLResolver | None = None, prefix: tuple = ()
) -> Iterator[tuple[tuple, URLPattern]]:
    """Every endpoint of the URL conf, with the patterns of the includes above it (outermost first)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry, (*prefix, entry.pattern))
        else:
            yield (*prefix, entry.pattern), entry


@register(Tags.urls)
def url_integers_bounded(app_configs=None, **kwargs) -> list[Error]:
    """An unbounded ``<int:…>`` lets a 25-digit id reach the database (a 500 on SQLite)."""
    errors = []
    for patterns, endpoint in url_patterns():
        for pattern in patterns:
            for name, converter in getattr(pattern, "converters", {}).items():
                if type(converter) is IntConverter:
                    route = "".join(str(p) for p in patterns)
                    errors.append(
                        Error(
                            f"URL {route!r} ({endpoint.name or endpoint.lookup_str}) takes <int:{name}>, "
                            "which passes ids no database column can hold.",
                            hint="Use <id:…> (config.core.converters): out-of-range ids are a 404.",
                            id="core.E001",
                        )
                    )
    return errors
