"""The upload handler that enforces MEDIA_MAX_UPLOAD_BYTES while the body is being read, and
hashes each file as it arrives."""

from __future__ import annotations

import hashlib

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    """Drops a file as soon as it passes the limit, so an over-size file is never written in full.

    It sits first in request.upload_handlers: the chunks it passes on reach Django's memory or
    temporary-file handler. A dropped file is remembered by name so the form can say why.

    Each kept file's SHA-256 (the duplicate check's key) is taken from the chunks on their way
    through, in ``digests[field name]``, in the order the files arrive (the order of
    ``request.FILES.getlist``): hashing afterwards read every upload back from its temporary file,
    a tenth of an upload's time (py-spy, issue 17).
    """

    def __init__(self, request=None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.oversize: list[str] = []
        self.digests: dict[str, list[str]] = {}
        self._sha256 = None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._sha256 = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.oversize.append(self.file_name or "")
            raise SkipFile()
        self._sha256.update(raw_data)
        return raw_data

    def file_complete(self, file_size: int):
        self.digests.setdefault(self.field_name, []).append(self._sha256.hexdigest())
        return None  # the next handler makes the file object
