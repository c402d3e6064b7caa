"""What the notifications app gives the ops jobs (config.ops.registry): its daily figure."""

from __future__ import annotations

from config.ops.registry import registry

from . import selectors

registry.figures("notifications.emails")(selectors.daily_figures)
