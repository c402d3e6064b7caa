"""Tasks only the benchmark sends (loaded through CELERY_IMPORTS in config.settings.bench)."""

import time

from celery import shared_task


@shared_task(name="bench.noop", bind=True)
def noop(self):
    return None


@shared_task(name="bench.burn", bind=True)
def burn(self, seconds: float = 1.0):
    """Keep one CPU busy, as a photo compression would (stands in until media tasks exist)."""
    deadline = time.process_time() + seconds
    n = 0
    while time.process_time() < deadline:
        n += sum(i * i for i in range(1000))
    return None
