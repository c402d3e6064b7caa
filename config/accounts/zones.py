"""The time zones a person may choose: IANA names this machine's tz database knows (tzdata)."""

from __future__ import annotations

import zoneinfo
from functools import cache

MESSAGE_UNKNOWN = "Choose a time zone from the list (an IANA name such as Europe/Berlin)."


@cache
def names() -> tuple[str, ...]:
    # Region/City names only, plus UTC: the legacy aliases (EST5EDT, Etc/GMT+3, posixrules…)
    # confuse more than they help and every one of them has a Region/City twin.
    legacy = ("Etc/", "posix", "right/")
    found = {n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith(legacy)}
    return ("UTC", *sorted(found))


def is_known(name: str) -> bool:
    return name in _known()


@cache
def _known() -> frozenset[str]:
    return frozenset(names())


def choices() -> list[tuple[str, str]]:
    return [(n, n.replace("_", " ")) for n in names()]
