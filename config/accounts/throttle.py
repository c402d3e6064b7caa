"""Login and password-reset throttling: counters in Redis, through Django's cache.

Why Redis and not django-axes: the counters are shared by every web process on every host (the
cache is the Redis the workers use already), each expires by itself (a key TTL; no table to sweep,
no database write per attempt, so a password-guessing flood does not load the database), and the
whole policy fits in this module. What axes adds (an attempts log in the database and an admin for
it) we do not need.

Each counter is a fixed window that opens at the first counted attempt and closes ``period``
seconds later: more than ``limit`` attempts inside it and the rest are refused until it closes,
with ``Retry-After`` saying when. Attempts are counted before they are tried (one atomic INCR), so
a burst of parallel requests cannot slip past the limit; a successful login gives its count back.

If Redis cannot be reached, attempts are let through (logged): a cache outage must not lock
everyone out, and sessions do not need Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.utils.connection import ConnectionProxy

# Its own alias: the same Redis, with short timeouts (settings.THROTTLE_SOCKET_TIMEOUT).
cache = ConnectionProxy(caches, "throttle")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Counter:
    scope: str  # "login-account", "login-address", "reset-email", "reset-address"
    subject: str  # the username, email or client address (hashed into the key)
    limit: int
    period: int

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.subject.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return f"throttle:{self.scope}:{digest}"


def client_address(request) -> str:
    # REMOTE_ADDR only: behind a proxy, have the proxy set it (gunicorn --forwarded-allow-ips), as
    # a client-supplied X-Forwarded-For would let anyone pick a fresh address per request.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def login_counters(request, username: str) -> list[Counter]:
    period = settings.ACCOUNTS_THROTTLE_PERIOD
    return [
        Counter(
            "login-account", username.strip().lower()[:300], settings.ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT, period
        ),
        Counter("login-address", client_address(request), settings.ACCOUNTS_LOGIN_LIMIT_PER_ADDRESS, period),
    ]


def reset_counters(request, email: str) -> list[Counter]:
    period = settings.ACCOUNTS_THROTTLE_PERIOD
    return [
        Counter("reset-email", email.strip().lower()[:300], settings.ACCOUNTS_RESET_LIMIT_PER_EMAIL, period),
        Counter("reset-address", client_address(request), settings.ACCOUNTS_RESET_LIMIT_PER_ADDRESS, period),
    ]


def attempt(counters: list[Counter]) -> int:
    """Count one attempt on every counter. 0 if it may go ahead, else the seconds to wait."""
    wait = 0.0
    now = time.time()
    try:
        for counter in counters:
            # add() is SET NX: the first attempt opens the window, and its expiry closes it.
            cache.add(counter.key + ":opened", now, timeout=counter.period)
            cache.add(counter.key, 0, timeout=counter.period)
            try:
                count = cache.incr(counter.key)
            except ValueError:  # the window closed between add() and incr(): open a new one
                cache.add(counter.key, 1, timeout=counter.period)
                count = 1
            if count > counter.limit:
                opened = cache.get(counter.key + ":opened") or now
                wait = max(wait, opened + counter.period - now)
    except Exception:  # Redis down or slow: never lock everyone out because of it
        logger.warning("throttle: the cache did not answer; letting the attempt through", exc_info=True)
        return 0
    return max(1, math.ceil(wait)) if wait > 0 else 0


def give_back(counters: list[Counter]) -> None:
    """A login succeeded: it does not count against the account or the address."""
    try:
        for counter in counters:
            try:
                if cache.decr(counter.key) < 0:
                    cache.delete(counter.key)
            except ValueError:  # expired meanwhile
                pass
    except Exception:
        logger.warning("throttle: the cache did not answer", exc_info=True)
