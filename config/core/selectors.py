"""Reads the views need, always scoped to the user asking."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from .models import Job

STATUS_FIELDS = ("task_id", "state", "progress_current", "progress_total", "result", "error")


def job_status_for_user(*, user: AbstractBaseUser, task_id: str) -> dict[str, Any] | None:
    """One indexed query (unique task_id); None when unknown or someone else's: the same 404."""
    return Job.objects.filter(task_id=task_id, owner_id=user.pk).values(*STATUS_FIELDS).first()


def job_for_user(*, user: AbstractBaseUser, task_id: str) -> Job | None:
    return Job.objects.filter(task_id=task_id, owner_id=user.pk).first()
