"""The scheduled-report tests start the real beat process the way the ops tests do."""

from tests.ops.conftest import start_beat  # noqa: F401
