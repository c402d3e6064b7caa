"""Pushed job status: state and progress changes as server-sent events (GET /tasks/stream/).

Publishing (any process, sync): every state change of a job (config/core/services.py, and the
stuck-job sweep in config/ops/services.py) calls :func:`job_changed` once its transaction has
committed. That reads the job's status row as the owner's poll would see it and PUBLISHes it on
the owner's channel in Redis. A publish that fails is logged and forgotten: the stream sends a
fresh snapshot on every (re)connect, and pages fall back to polling, so a lost event delays a
page but never wrongs it.

Watching (a web process, async): one Redis pub/sub connection per web process (:class:`Hub`)
carries every owner's channel its streams need and hands each message to the streams of that
owner; a stream is an async iterator on the event loop, so 500 watchers are 500 coroutines and
one Redis connection, not 500 threads or sockets to Redis.

Each event's id is the job row's updated_at in microseconds. A stream never sends a job an event
older than one it already sent it (a snapshot read after subscribing may be newer than a message
already in flight), and a reconnecting browser's Last-Event-ID skips the jobs unchanged since.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from config.core import redis as shared_redis

from .asgi_limits import WholeBodyHandler
from .models import Job

logger = logging.getLogger(__name__)

STATUS_FIELDS = (
    "task_id",
    "owner_id",
    "state",
    "progress_current",
    "progress_total",
    "result",
    "error",
    "updated_at",
)
# A page shows a screenful of jobs; a longer list is cut, not refused (the rest still poll).
MAX_IDS = 100
# Events a slow stream may fall behind before it is ended (the browser reconnects and gets a snapshot).
QUEUE_LIMIT = 1000
LOST = object()  # the hub's Redis connection broke: streams end and their browsers reconnect
# How soon a browser reconnects after a stream ends (EventSource's `retry:`).
RETRY_MS = 2000
# Changes published by different processes can arrive out of order: a reconnect's snapshot also
# resends jobs changed this long before its Last-Event-ID (a duplicate is harmless, a gap is not).
RESUME_SLACK_US = 10_000_000


class Inbox(asyncio.Queue):
    """One stream's queue of messages; ``overflowed`` once it fell QUEUE_LIMIT behind."""

    overflowed = False


def channel(owner_id: int) -> str:
    return shared_redis.key(f"jobs:owner:{owner_id}")


def stamp(row: dict) -> int:
    return int(row["updated_at"].timestamp() * 1_000_000)


def event_payload(row: dict) -> dict:
    from .views import job_status_payload  # noqa: PLC0415 - cycle: views imports this module for the stream

    return {**job_status_payload(row), "updated": stamp(row)}


def job_changed(task_id: str) -> None:
    """Publish a job's status to its owner's streams (after commit; never raises)."""
    try:
        row = Job.objects.filter(task_id=task_id).values(*STATUS_FIELDS).first()
    except Exception as exc:
        logger.warning("job %s: could not read its change to publish it: %s", task_id, exc)
        return
    if row is not None:
        publish(row)


def publish(row: dict) -> None:
    """Publish a status row (STATUS_FIELDS) read already, e.g. by the UPDATE that changed it."""
    if row["owner_id"] is None:
        return
    try:
        shared_redis.client().publish(channel(row["owner_id"]), json.dumps(event_payload(row)))
    except Exception as exc:
        logger.warning("job %s: could not publish its change: %s", row["task_id"], exc)


def on_commit_publish(task_id: str) -> None:
    transaction.on_commit(lambda: job_changed(task_id))


def on_commit_publish_row(row: dict) -> None:
    """Publish ``row`` once the transaction that wrote it commits: no second read of the job.

    Every job changes state at least twice, and the read after commit was a fifth of a fast
    worker's time per job (py-spy, issue 17); the row comes back from the UPDATE itself
    (config.core.services._update_returning). If later changes commit first, the streams keep the
    newest anyway: each event carries its row's updated_at, and older ones are dropped.
    """
    transaction.on_commit(lambda: publish(row))


class Hub:
    """This web process's one pub/sub connection, shared by all its streams."""

    def __init__(self) -> None:
        self.listeners: dict[str, set[Inbox]] = {}
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def join(self, name: str) -> Inbox:
        queue = Inbox(QUEUE_LIMIT)
        async with self.lock:
            if self.pubsub is None:
                client = aioredis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=settings.SOCKET_CONNECT_TIMEOUT,
                    # Reads wait for messages as long as get_message says; other commands time out.
                    socket_timeout=None,
                    health_check_interval=settings.PUSH_HEARTBEAT,
                )
                self.pubsub = client.pubsub(ignore_subscribe_messages=True)
            if name not in self.listeners:
                await asyncio.wait_for(self.pubsub.subscribe(name), settings.SOCKET_TIMEOUT + 1)
                self.listeners[name] = set()
            self.listeners[name].add(queue)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
        return queue

    async def leave(self, name: str, queue: Inbox) -> None:
        async with self.lock:
            queues = self.listeners.get(name)
            if queues is None:
                return
            queues.discard(queue)
            if not queues:
                del self.listeners[name]
                if self.pubsub is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self.pubsub.unsubscribe(name), settings.SOCKET_TIMEOUT + 1)

    async def _read(self) -> None:
        pubsub = self.pubsub
        try:
            while self.listeners:
                message = await pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                name = message["channel"].decode()
                for queue in list(self.listeners.get(name, ())):
                    try:
                        queue.put_nowait(message["data"])
                    except asyncio.QueueFull:
                        queue.overflowed = True  # the stream ends at its next look; a reconnect catches up
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("push: the pub/sub connection broke: %s", exc)
            async with self.lock:
                for queues in self.listeners.values():
                    for queue in queues:
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.put_nowait(LOST)
                self.listeners.clear()
                self.pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (uvicorn has one per process)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found


def format_event(payload: dict) -> bytes:
    return f"id: {payload['updated']}\nevent: job\ndata: {json.dumps(payload)}\n\n".encode()


async def stream(*, owner_id: int, task_ids: list[str], last_event_id: int | None) -> AsyncIterator[bytes]:
    """The event stream of ``task_ids`` (those the owner owns; others are silently left out).

    Subscribes first, then sends a snapshot of each job (those changed since ``last_event_id``
    only), then the changes as they come; a comment every PUSH_HEARTBEAT seconds; ``event: done``
    and the end once every job is final, or the end after PUSH_STREAM_LIFETIME seconds.
    """
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + settings.PUSH_STREAM_LIFETIME
    yield f"retry: {RETRY_MS}\n\n".encode()
    name = channel(owner_id)
    the_hub = hub()
    try:
        queue = await the_hub.join(name)
    except Exception as exc:  # Redis away: end at once; the page polls instead
        logger.warning("push: could not subscribe: %s", exc)
        yield b"event: unavailable\ndata: {}\n\n"
        return
    try:
        rows = await sync_to_async(_snapshot)(owner_id, task_ids)
        sent: dict[str, int] = {}
        active = set()
        for row in rows:
            sent[row["task_id"]] = stamp(row)
            if row["state"] not in Job.FINAL_STATES:
                active.add(row["task_id"])
            if last_event_id is None or stamp(row) >= last_event_id - RESUME_SLACK_US:
                yield format_event(event_payload(row))
        while active:
            remaining = ends_at - loop.time()
            if remaining <= 0:
                return
            try:
                data = await asyncio.wait_for(queue.get(), min(settings.PUSH_HEARTBEAT, remaining))
            except TimeoutError:
                if queue.overflowed:
                    return
                yield b": keep-alive\n\n"
                continue
            if data is LOST or queue.overflowed:
                return
            payload = json.loads(data)
            task_id = payload.get("task_id")
            if task_id not in sent or payload["updated"] < sent[task_id]:
                continue  # not one of this page's jobs, or older than what the page has
            sent[task_id] = payload["updated"]
            yield format_event(payload)
            if payload["state"] in Job.FINAL_STATES:
                active.discard(task_id)
        yield b"event: done\ndata: {}\n\n"
    finally:
        await the_hub.leave(name, queue)


def _snapshot(owner_id: int, task_ids: list[str]) -> list[dict]:
    return list(Job.objects.filter(owner_id=owner_id, task_id__in=task_ids).values(*STATUS_FIELDS))


STREAM_PATH = "/tasks/stream/"


def handler_class():
    """Django's ASGI handler (BodyLimits' WholeBodyHandler), except that a stream runs outside a
    ThreadSensitiveContext.

    Django enters one per request, and the first thread-sensitive call in it (every sync middleware
    is one) starts a thread of that request's own, kept until the response ends: for a stream, a
    thread per watcher for its whole life (505 threads for 500 watchers, measured). Outside such a
    context those calls share asgiref's one thread for thread-sensitive code, in turn: a stream's
    sync work is the middleware and one snapshot query at its start, so sharing costs little, and
    the waiting holds no thread at all.
    """

    class StreamAwareHandler(WholeBodyHandler):
        async def __call__(self, scope, receive, send):
            if scope["type"] == "http" and scope.get("path") == STREAM_PATH:
                return await self.handle(scope, receive, send)
            return await super().__call__(scope, receive, send)

    return StreamAwareHandler
