"""The words people read for job states and job kinds: one mapping, used by every page, the JSON
of /tasks/<id>/, the admin and the exports.

States are the job layer's own (config.core.models.Job.State). Kinds belong to the apps: each
registers the human name of the kinds it creates (``register_kind`` in its AppConfig.ready), so
this module never names an app; an unregistered kind reads as its own code, never as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Job

State = Job.State

# The five words a person sees. RETRY is still running as far as its owner is concerned.
QUEUED, RUNNING, READY, FAILED, CANCELLED = "Queued", "Running", "Ready", "Failed", "Cancelled"
STATE_WORDS: dict[str, str] = {
    State.QUEUED: QUEUED,
    State.STARTED: RUNNING,
    State.PROGRESS: RUNNING,
    State.RETRY: RUNNING,
    State.SUCCESS: READY,
    State.FAILURE: FAILED,
    State.CANCELLED: CANCELLED,
}


def state_word(state: str | None) -> str:
    """The word for a job state ("SUCCESS" → "Ready"); an unknown state reads capitalised."""
    if not state:
        return ""
    return STATE_WORDS.get(state, str(state).capitalize())


@dataclass(frozen=True)
class Kind:
    name: str
    # Work the system does for itself (cleanup, statistics, re-dispatch): hidden from the admin's
    # Jobs list by default.
    housekeeping: bool = False


_KINDS: dict[str, Kind] = {}


def register_kind(code: str, name: str, *, housekeeping: bool = False) -> None:
    _KINDS[code] = Kind(name=name, housekeeping=housekeeping)


def kind_name(code: str | None) -> str:
    """The human name of a job kind ("media.compress" → "Picture compression")."""
    if not code:
        return ""
    kind = _KINDS.get(code)
    return kind.name if kind else code


def housekeeping_kinds() -> list[str]:
    return sorted(code for code, kind in _KINDS.items() if kind.housekeeping)


def kind_choices() -> list[tuple[str, str]]:
    return sorted(((code, kind.name) for code, kind in _KINDS.items()), key=lambda c: c[1])
