"""Where the shared test data (real photos, Pillow's tricky files) lives: `../shared/testdata`
beside the checkout. A clone made elsewhere from a local checkout (`git clone /work/main /tmp/x`)
finds it beside the checkout it was cloned from; BACKROOM_TESTDATA names it outright."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    url = url.removeprefix("file://")
    return Path(url) if url.startswith("/") else None


def find_testdata() -> Path:
    """The test data folder; the first candidate when none exists (the caller reports it)."""
    candidates = []
    if os.environ.get("BACKROOM_TESTDATA"):
        candidates.append(Path(os.environ["BACKROOM_TESTDATA"]))
    candidates.append(ROOT.parent / "shared" / "testdata")
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.parent / "shared" / "testdata")
    return next((c for c in candidates if c.is_dir()), candidates[0])


TESTDATA = find_testdata()
