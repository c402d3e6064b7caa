"""The upload handler that enforces MEDIA_MAX_UPLOAD_BYTES while the body is being read."""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    """Drops a file as soon as it passes the limit, so an over-size file is never written in full.

    It sits first in request.upload_handlers: the chunks it passes on reach Django's memory or
    temporary-file handler. A dropped file is remembered by name so the form can say why.
    """

    def __init__(self, request=None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.oversize: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.oversize.append(self.file_name or "")
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handler makes the file object
