"""What every web process does once it has loaded the app, whichever server runs it."""

import gc

from django.urls import get_resolver


def warm_and_freeze() -> None:
    """Import every view now and move what loading made out of the garbage collector's sight.

    Django and its apps leave about 100k long-lived objects; every full collection walks them all,
    which takes 20-30 ms on this hardware and stalls every thread of the process mid-request. Those
    pauses, not the views, set the tail of the upload and status latencies. Frozen objects are never
    scanned again (they live as long as the process anyway), so a full collection costs only what
    requests allocate. Done in each worker after it forked (the app is loaded there), so nothing
    depends on --preload.
    """
    get_resolver().url_patterns  # noqa: B018 - imports every urls.py and view module
    gc.collect()
    gc.freeze()
