"""Plain Celery: no Django, no result backend, no job row. The baseline for task throughput.

`celery -A tests.bench.bare_celery worker` runs it. Each task records that it ran in Redis (one
pipelined round trip) so the benchmark knows when the last one finished without a result backend.
"""

import os
import time

import redis
from celery import Celery

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
QUEUE = "bench-bare"

app = Celery("bare", broker=BROKER_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    accept_content=["json"],
    task_serializer="json",
    broker_connection_retry_on_startup=True,
)
_redis = None


@app.task(name="bare.noop")
def noop(counter_key: str) -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(BROKER_URL)
    pipe = _redis.pipeline(transaction=False)
    pipe.incr(counter_key)
    pipe.set(f"{counter_key}:last", repr(time.time()))
    pipe.execute()
