"""What every app needs to know about its file storage, local disk or S3: which errors are the
storage's and which mean "not there". How long a job retries them: config.core.retry.STORAGE.
"""

from __future__ import annotations

try:  # S3 through django-storages: its errors are not OSErrors
    from botocore.exceptions import BotoCoreError, ClientError

    STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)
except ImportError:  # pragma: no cover - botocore ships with production requirements
    STORAGE_ERRORS = (OSError,)


def is_missing(exc: BaseException) -> bool:
    """True when a storage error means the file is not there (rather than the storage being down)."""
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("404", "NoSuchKey", "NotFound")
