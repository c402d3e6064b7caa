"""Measures of photo uploads and compression (media_app)."""

from __future__ import annotations

from . import measures_core
from .context import Context
from .stats import Result


def status_latency(ctx: Context) -> list[Result]:
    return measures_core.status_latency(ctx)


def upload_latency(ctx: Context) -> list[Result]:
    raise NotImplementedError("media_app upload not built yet")


def compress_time(ctx: Context) -> list[Result]:
    raise NotImplementedError("media_app compression not built yet")


def worker_rss_growth(ctx: Context) -> list[Result]:
    raise NotImplementedError("media_app compression not built yet")
