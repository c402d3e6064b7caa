"""Fixtures of the media tests: the test photos. Their helpers are in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def photos(testdata) -> Path:
    return testdata / "images" / "photos"


@pytest.fixture(scope="session")
def pillow_images(testdata) -> Path:
    return testdata / "images" / "pillow"
