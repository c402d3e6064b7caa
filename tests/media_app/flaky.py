"""A local storage that fails on demand, for the retry tests' own worker.

A test arms it with ``cache.set(f"media-flaky:{image_pk}", n)``: the next n attempts to write that
image's "medium.webp" rendition raise OSError, after the larger renditions were already written
(so the test also sees that a failed attempt leaves no partial set behind).
"""

from django.core.cache import cache
from django.core.files.storage import FileSystemStorage


def flaky_key(image_pk: int) -> str:
    return f"media-flaky:{image_pk}"


class FlakyStorage(FileSystemStorage):
    def _save(self, name, content):
        parts = name.split("/")
        if parts[:2] == ["media", "renditions"] and parts[-1] == "medium.webp":
            try:
                left = cache.decr(flaky_key(int(parts[3])))
            except ValueError:  # not armed
                left = -1
            if left >= 0:
                raise OSError(f"simulated storage outage writing {name}")
        return super()._save(name, content)
