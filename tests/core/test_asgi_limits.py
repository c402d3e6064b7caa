"""config.core.asgi_limits on its own: an ASGI app behind BodyLimits, fed messages by the test.

The real server is in tests/reliability/test_slow_clients.py; here each rule is checked at its edge.
"""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from config.core.asgi_limits import PART_OVERHEAD, BodyLimits, Limits, PartSizes, WholeBodyRequest

LIMITS = Limits(file_bytes=1000, files=2, fields_bytes=500, idle_timeout=0.2, body_timeout=1.0)


def run_in_own_loop(coro):
    """asyncio.run in a thread of its own: the suite's Playwright (sync API) keeps an event loop
    running in the main thread once a browser test has run, where asyncio.run refuses to start."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def scope(headers: dict[str, str], method: str = "POST") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": "/media/upload/",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


async def body_reader(scope, receive, send):
    """Reads the body as Django's ASGIHandler does, then answers 200 with its length."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def run(headers: dict, messages: list, *, limits: Limits = LIMITS, app=body_reader, gaps: float = 0):
    """Feed `messages` (then silence) to the app behind BodyLimits; what was sent back."""
    sent = []

    async def receive():
        if messages:
            if gaps:
                await asyncio.sleep(gaps)
            return messages.pop(0)
        await asyncio.sleep(3600)  # a client that stopped sending

    async def send(message):
        sent.append(message)

    async def main():
        await asyncio.wait_for(BodyLimits(app, limits)(scope(headers), receive, send), 5)

    run_in_own_loop(main())
    return sent


def chunk(data: bytes, more: bool = True) -> dict:
    return {"type": "http.request", "body": data, "more_body": more}


def status(sent: list) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def body(sent: list) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


MULTIPART = {"Content-Type": "multipart/form-data; boundary=BOUND", "Accept": "application/json"}


def test_a_body_within_the_limits_reaches_the_app_whole():
    sent = run(MULTIPART, [chunk(b"--BOUND\r\n" + b"a" * 900), chunk(b"\r\n--BOUND--\r\n", more=False)])
    assert status(sent) == 200
    assert body(sent) == b"922"


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read():
    never_called = []

    async def app(scope, receive, send):
        never_called.append(True)

    limit = LIMITS.multipart_bytes
    sent = run({**MULTIPART, "Content-Length": str(limit + 1)}, [], app=app)
    assert status(sent) == 413 and not never_called
    assert json.loads(body(sent)) == {
        "error": "This upload is too large: at most 2 files of 1000 bytes each."
    }
    assert (b"connection", b"close") in sent[0]["headers"]


def test_one_file_past_its_limit_is_refused_while_it_arrives():
    """Split into chunks in the middle of the boundary, so the scanner must join them."""
    part = b"--BOUND\r\nContent-Disposition: form-data; name=image\r\n\r\n"
    first = part + b"x" * 600 + b"\r\n--BO"
    messages = [chunk(first), chunk(b"UND\r\n\r\n" + b"y" * 900), chunk(b"y" * (PART_OVERHEAD + 200))]
    messages.append(chunk(b"never read", more=False))
    sent = run(MULTIPART, messages)
    assert status(sent) == 413
    assert json.loads(body(sent))["error"] == "A file in this upload is larger than the 1000 bytes limit."
    assert messages == [chunk(b"never read", more=False)]


def test_two_files_each_within_the_limit_pass_the_part_scan():
    parts = b"".join(b"--BOUND\r\n\r\n" + b"z" * (1000 + PART_OVERHEAD - 20) + b"\r\n" for _ in range(2))
    sent = run(
        MULTIPART, [chunk(parts[i : i + 700]) for i in range(0, len(parts), 700)] + [chunk(b"", False)]
    )
    assert status(sent) == 200


def test_any_other_body_is_held_to_the_fields_limit_as_it_arrives():
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    sent = run(headers, [chunk(b"a" * 400), chunk(b"a" * 200), chunk(b"", more=False)])
    assert status(sent) == 413
    assert b"This request is too large (the limit is 500 bytes)." in body(sent)
    assert (b"content-type", b"text/html; charset=utf-8") in sent[0]["headers"]


def test_a_body_that_stops_arriving_gets_408():
    sent = run(MULTIPART, [chunk(b"--BOUND\r\n")])
    assert status(sent) == 408
    assert "stopped arriving" in json.loads(body(sent))["error"]


def test_a_body_that_trickles_past_the_deadline_gets_408():
    """Each byte comes within the idle timeout, but the whole takes longer than body_timeout."""
    messages = [chunk(b"x") for _ in range(20)]
    sent = run({"Content-Type": "text/plain"}, messages, gaps=0.1)
    assert status(sent) == 408
    assert len(messages) > 5  # refused at about 1 s, not when the client chose to stop


def test_after_the_body_the_app_may_wait_for_a_disconnect_as_long_as_it_likes():
    """Django listens for the client going away while a view runs: that wait is not timed."""

    async def slow_view(scope, receive, send):
        await receive()  # the (empty) body
        waiter = asyncio.ensure_future(receive())
        await asyncio.sleep(LIMITS.idle_timeout * 3)
        assert not waiter.done()
        waiter.cancel()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = run({}, [chunk(b"", more=False)], app=slow_view)
    assert status(sent) == 200


def test_nothing_the_app_sends_after_a_refusal_goes_out():
    async def stubborn(scope, receive, send):
        message = await receive()
        assert message["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 500, "headers": []})

    sent = run({"Content-Length": "501"}, [], app=stubborn)  # refused before the app: never called
    assert [status(sent)] == [413]
    sent = run({}, [chunk(b"a" * 501)], app=stubborn)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]


def test_non_http_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    run_in_own_loop(BodyLimits(app, LIMITS)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


@pytest.mark.parametrize("split", [1, 2, 3, 7, 64])
def test_part_sizes_finds_delimiters_however_the_body_is_cut(split):
    data = b"--B\r\n\r\n" + b"1" * 50 + b"\r\n--B\r\n\r\n" + b"2" * 30 + b"\r\n--B--\r\n"
    sizes = PartSizes(b"B", limit=60)
    assert all(sizes.feed(data[i : i + split]) for i in range(0, len(data), split))
    sizes = PartSizes(b"B", limit=40)
    assert not all(sizes.feed(data[i : i + split]) for i in range(0, len(data), split))


def test_a_chunked_body_gets_its_length_once_it_is_whole(settings):
    body_file = io.BytesIO(b"title=hello")
    request = WholeBodyRequest(scope({"Content-Type": "application/x-www-form-urlencoded"}), body_file)
    assert request.META["CONTENT_LENGTH"] == "11"
    assert request.POST["title"] == "hello"
