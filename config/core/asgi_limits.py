"""Request bodies under ASGI: the size limit enforced while a body arrives, and no body that stalls.

Django's ASGIHandler reads a whole body into a temporary file before any upload handler runs, so
media_app's SizeLimitUploadHandler alone would see an over-size file only once all of it is on disk.
This pure-ASGI middleware sits between the server (uvicorn) and Django and counts bytes as the body's
messages arrive (chunked bodies too: the server has decoded them by then):

- a declared Content-Length over the limit is answered 413 before a byte of the body is read;
- a multipart body is answered 413 as soon as one part (one file) passes the per-file limit, or the
  whole passes what `files` such parts and the form fields may take; any other body passes
  `fields_bytes` (Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which Django would refuse after reading);
- a body that sends nothing for `idle_timeout` seconds, or is not complete `body_timeout` seconds
  after its headers, is answered 408.

Either way Django is told the client went away (`http.disconnect`), so no view runs, and the answer
carries `Connection: close`, so the server drops the connection and the rest of the body. Waiting for
a slow body is an await on the event loop: it holds no thread, however many clients do it.
"""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.template.defaultfilters import filesizeformat
from django.utils.http import parse_header_parameters

# Room for one part's own headers (Content-Disposition with its file name, Content-Type) and the
# line break before the next boundary, on top of the file itself.
PART_OVERHEAD = 16 * 1024


@dataclass(frozen=True)
class Limits:
    file_bytes: int | None  # one file of a multipart body (MEDIA_MAX_UPLOAD_BYTES)
    files: int | None  # files one multipart body may hold (DATA_UPLOAD_MAX_NUMBER_FILES)
    fields_bytes: int | None  # any other body, and a multipart body's plain fields
    idle_timeout: float  # seconds without a byte of the body
    body_timeout: float  # seconds from the headers to the body's end

    @property
    def multipart_bytes(self) -> int | None:
        if self.file_bytes is None or self.files is None:
            return None
        return self.files * (self.file_bytes + PART_OVERHEAD) + (self.fields_bytes or 0)


def _size(n: int) -> str:
    return filesizeformat(n).replace("\xa0", " ")


class WholeBodyRequest(ASGIRequest):
    """A request whose body came chunked (no Content-Length) still shows Django its length.

    Django's form parsers read CONTENT_LENGTH and take a body without one as empty ("Choose a
    picture to upload."). Under ASGI the whole body is in hand by the time the request is built
    (ASGIHandler.read_body, within BodyLimits' limits), so its length is known.
    """

    def __init__(self, scope, body_file) -> None:
        super().__init__(scope, body_file)
        if "CONTENT_LENGTH" not in self.META:
            size = body_file.seek(0, 2)
            body_file.seek(0)
            if size:
                self.META["CONTENT_LENGTH"] = str(size)


class WholeBodyHandler(ASGIHandler):
    """Django's ASGI handler with a sync middleware chain, entered in one thread hop per request.

    Under ASGI Django builds an async chain and adapts each middleware to it. Ours mixes sync-only
    middleware (WhiteNoise, PermissionsPolicy, BrokerUnavailable) with async-capable ones, so a
    request crossed between the event loop and its thread four or more times (about 2 ms of a 7 ms
    status poll, measured beside gunicorn's threads). Every view here is sync, so the whole chain
    runs as under WSGI, in the request's own thread, entered once. An async view (a stream of
    events) still works: Django runs it through async_to_sync, it returns its streaming response at
    once, and the handler reads the response's async iterator on the event loop, holding no thread.
    """

    request_class = WholeBodyRequest

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


class PartSizes:
    """Follows the parts of a multipart body chunk by chunk; says when one grows past `limit`.

    Counts the bytes since the last boundary delimiter seen, keeping the end of each chunk so that
    a delimiter split between two chunks is still found. Django's parser splits on the same
    delimiter, so a part here is a part there.
    """

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.delimiter = b"--" + boundary
        self.limit = limit
        self.part = 0
        self.tail = b""

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; False once a part is over the limit."""
        data = self.tail + chunk
        counted = self.part - len(self.tail)  # of the current part, before data[0]
        start, fits = 0, True
        at = data.find(self.delimiter)
        while at != -1:
            fits = fits and counted + at - start <= self.limit
            counted, start = 0, at + len(self.delimiter)
            at = data.find(self.delimiter, start)
        self.part = counted + len(data) - start
        self.tail = data[-(len(self.delimiter) - 1) :]
        return fits and self.part <= self.limit


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class BodyLimits:
    """Wraps an ASGI app (Django) with `Limits` on every HTTP request body."""

    def __init__(self, app, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.part_limit = None if limits.file_bytes is None else limits.file_bytes + PART_OVERHEAD
        self.too_large_file = (
            None
            if limits.file_bytes is None
            else f"A file in this upload is larger than the {_size(limits.file_bytes)} limit."
        )
        self.too_large_upload = (
            None
            if limits.multipart_bytes is None
            else f"This upload is too large: at most {limits.files} files of {_size(limits.file_bytes)} each."
        )
        self.too_large_other = (
            None
            if limits.fields_bytes is None
            else f"This request is too large (the limit is {_size(limits.fields_bytes)})."
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = _Body(self, scope, receive, send)
        try:
            body.check_declared()
        except Refused as refusal:
            return await body.refuse(refusal)
        return await self.app(scope, body.receive, body.send)


class _Body:
    """One request's body as it arrives: counted, timed, refused at the first limit passed."""

    def __init__(self, limits: BodyLimits, scope, receive, send) -> None:
        self.owner, self.limits = limits, limits.limits
        self._receive, self._send = receive, send
        headers = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        self.headers = headers
        self.parts = None
        content_type, params = parse_header_parameters(headers.get("content-type", ""))
        if content_type.startswith("multipart/"):
            self.limit, self.too_large = self.limits.multipart_bytes, limits.too_large_upload
            boundary = params.get("boundary", "").encode("latin-1")
            if boundary and limits.part_limit is not None:
                self.parts = PartSizes(boundary, limits.part_limit)
        else:
            self.limit, self.too_large = self.limits.fields_bytes, limits.too_large_other
        self.received = 0
        self.complete = False
        self.refused = False
        self.response_started = False
        self.deadline = asyncio.get_running_loop().time() + self.limits.body_timeout

    def check_declared(self) -> None:
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and self.limit is not None and int(declared) > self.limit:
            raise Refused(413, self.too_large)

    async def receive(self):
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:  # after the body: Django listens for a disconnect for as long as a view runs
            return await self._receive()
        try:
            message = await self._next_message()
            if message["type"] == "http.request":
                self._count(message.get("body", b""))
                self.complete = not message.get("more_body", False)
            return message
        except Refused as refusal:
            await self.refuse(refusal)
            return {"type": "http.disconnect"}

    async def _next_message(self):
        loop = asyncio.get_running_loop()
        wait = min(self.limits.idle_timeout, self.deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                return await self._receive()
        except TimeoutError:
            raise Refused(408, "The upload stopped arriving, so it was cancelled. Please try again.")

    def _count(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.parts is not None and not self.parts.feed(chunk):
            raise Refused(413, self.owner.too_large_file)
        if self.limit is not None and self.received > self.limit:
            raise Refused(413, self.too_large)

    async def send(self, message):
        if self.refused:
            return  # this request was answered already; what the app says now goes nowhere
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def refuse(self, refusal: Refused) -> None:
        self.refused = True
        if self.response_started:
            return  # too late for another answer: the disconnect alone ends the request
        accept = self.headers.get("accept", "")
        if "application/json" in accept and "text/html" not in accept:
            body = json.dumps({"error": refusal.message}).encode()
            content_type = b"application/json"
        else:
            title = "Request too large" if refusal.status == 413 else "Request timed out"
            body = (
                f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
                f"<h1>{title}</h1><p>{html.escape(refusal.message)}</p></html>"
            ).encode()
            content_type = b"text/html; charset=utf-8"
        await self._send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body})
