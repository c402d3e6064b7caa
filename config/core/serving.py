"""Serving private files once a view has checked who is asking.

settings.PRIVATE_FILES_SERVER picks how: "django" streams the file from storage (works with any
storage, S3 included); "nginx" answers X-Accel-Redirect to PRIVATE_FILES_INTERNAL_URL + name (an
``internal`` location aliased to MEDIA_ROOT); "apache" answers X-Sendfile with the file's path.

With S3 the file is always streamed by Django, never redirected to a presigned URL: the bucket
stays private and need not be reachable from browsers, our headers (type, nosniff, disposition,
private caching) hold, a link cannot be passed on, and taking access away works at once. The
cost is a web thread per download, which is why large deployments on local disk use nginx.
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header

from .errors import StorageUnavailable
from .storage import STORAGE_ERRORS, is_missing


def private_file_response(
    *,
    storage: Storage,
    name: str,
    content_type: str,
    filename: str,
    attachment: bool = False,
    cache_control: str = "private, max-age=3600",
) -> HttpResponse:
    """The response for a private file; the caller has checked the owner. 404 if it is gone."""
    # nginx and apache read the file from disk themselves: only a local storage has one.
    server = settings.PRIVATE_FILES_SERVER if isinstance(storage, FileSystemStorage) else "django"
    if server == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.PRIVATE_FILES_INTERNAL_URL.rstrip("/") + "/" + quote(name)
    elif server == "apache":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = storage.path(name)
    else:
        try:
            fh = storage.open(name, "rb")
        except STORAGE_ERRORS as exc:
            if is_missing(exc):
                raise Http404 from None
            raise StorageUnavailable(str(exc)) from exc
        response = FileResponse(fh, content_type=content_type)
    # The type is ours, from the decoded format: a browser must not guess another one.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = content_disposition_header(attachment, filename)
    # Only this user's browser may keep it; shared caches never.
    response["Cache-Control"] = cache_control
    return response
