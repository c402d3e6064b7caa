from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.core.humanize import human_duration, percent
from config.core.negotiation import wants_json
from config.core.serving import private_file_response
from config.core.words import state_word

from . import layouts, selectors, services
from .forms import ExportRequestForm, ScheduleForm
from .models import Export

MESSAGE_QUEUED = "Your {kind} export is being prepared. It appears below with a download button when ready."
MESSAGE_LINK_EXPIRED = (
    "This download link has expired. Links work for {duration}; open your reports page for a fresh "
    "one while the export is kept."
)
MESSAGE_LINK_INVALID = (
    "This download link is not valid: it may have been cut short or altered. Open your reports "
    "page and use the download button there."
)
MESSAGE_FILE_EXPIRED = "This export has expired and its file was removed. You can ask for a new one."
MESSAGE_NOT_READY = "This export has no file to download."


# --- page -----------------------------------------------------------------------------------------


@require_GET
@never_cache
def index(request):
    return _render_index(request, ExportRequestForm(user=request.user))


def _render_index(request, form: ExportRequestForm, status: int = 200, schedule_form=None):
    rows = [_row(export) for export in selectors.exports_for_user(user=request.user)]
    context = {
        "form": form,
        "groups": form.columns_for_page(),
        "schedule_form": schedule_form or ScheduleForm(user=request.user),
        "schedules": [schedule_row(s) for s in selectors.schedules_for_user(user=request.user)],
        "exports": rows,
        "any_active": any(r["active"] for r in rows),
        "time_zone": timezone.get_current_timezone_name(),
    }
    context["schedule_groups"] = context["schedule_form"].columns_for_page()
    return render(request, "reports/index.html", context, status=status)


def choice_summary(kind: str, columns: list, filters: dict) -> dict:
    """What an export or a schedule holds, in words: its columns and its filters."""
    report = layouts.REPORTS.get(kind)
    titles = {c.key: c.title for c in report.columns} if report else {}
    shown = [titles.get(k, k) for k in columns] if columns else []
    parts = []
    for name, value in (filters or {}).items():
        label = layouts.FILTER_LABELS.get(name, name).lower()
        words = (
            value
            if isinstance(value, str)
            else ", ".join(selectors.filter_word(kind, name, v) for v in value)
        )
        parts.append(f"{label} {words}")
    return {"columns": ", ".join(shown) or "all columns", "filters": "; ".join(parts)}


def schedule_row(schedule) -> dict:
    return {
        "schedule": schedule,
        "enabled": schedule.periodic_task.enabled,
        "when": services.schedule_describe(schedule=schedule),
        **choice_summary(schedule.kind, schedule.columns, schedule.filters),
    }


def _row(export: Export) -> dict:
    job = export.job
    payload = export_payload(export)
    return {
        "export": export,
        "state": payload["state"],
        "error": payload["error"],
        "active": export.is_active,
        "percent": None if job is None else percent(job.progress_current, job.progress_total),
        "download_url": payload["download_url"],
        "task_status_url": reverse("task_status", args=[job.task_id]) if job is not None else "",
        **choice_summary(export.kind, export.columns, export.filters),
    }


# --- JSON and form endpoints ----------------------------------------------------------------------


@require_POST
def export_create(request):
    """POST kind (+ file_format, columns, filters, date_from, date_to). JSON clients get
    202/400/429; browsers a page."""
    form = ExportRequestForm(request.POST, user=request.user)
    as_json = wants_json(request)
    if not form.is_valid():
        if as_json:
            return JsonResponse({"errors": _errors(form)}, status=400)
        return _render_index(request, form, status=400)
    try:
        export = services.export_request(
            user=request.user,
            kind=form.cleaned_data["kind"],
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
            format=form.cleaned_data["file_format"],
            columns=form.cleaned_data["columns"],
            filters=form.cleaned_data["filters"],
        )
    except services.ExportLimitReached as exc:
        if as_json:
            return JsonResponse({"error": exc.message}, status=429)
        messages.error(request, exc.message)
        return _render_index(request, form, status=429)
    if as_json:
        task_id = export.job.task_id
        return JsonResponse(
            {
                "export_id": export.pk,
                "task_id": task_id,
                "status_url": reverse("task_status", args=[task_id]),
            },
            status=202,
        )
    messages.success(request, MESSAGE_QUEUED.format(kind=export.get_kind_display().lower()))
    return redirect("reports:index")


def _errors(form) -> dict:
    return {field: [str(e) for e in errs] for field, errs in form.errors.items()}


@require_GET
@never_cache
def export_status(request, export_id: int):
    export = selectors.export_for_user(user=request.user, export_id=export_id)
    if export is None:
        raise Http404
    return JsonResponse(export_payload(export))


def export_payload(export: Export) -> dict:
    state = export.status
    # The selectors compare expires_at with the database's clock (expired_now), as it was written.
    expired = getattr(export, "expired_now", None)
    if expired is None:
        expired = export.expires_at is not None and export.expires_at <= timezone.now()
    if state == Export.State.SUCCESS and expired:
        state = Export.State.EXPIRED
    ready = state == Export.State.SUCCESS and bool(export.file)
    return {
        "id": export.pk,
        "kind": export.kind,
        "state": state,
        "state_label": state_word(state),
        "rows": export.rows,
        "bytes": export.bytes,
        "download_url": services.export_download_url(export=export) if ready else None,
        "expires_at": export.expires_at.isoformat() if ready else None,
        "error": export.status_error or None,
    }


# --- download -------------------------------------------------------------------------------------


@require_GET
def export_download(request, export_id: int, token: str):
    """The signed link. Someone else's export is a 404 even with a valid link."""
    export = selectors.export_for_user(user=request.user, export_id=export_id)
    if export is None:
        raise Http404
    try:
        services.export_download_verify(export=export, token=token)
    except services.LinkExpired:
        duration = human_duration(settings.REPORTS_LINK_MAX_AGE)
        return _refused(request, 410, "Link expired", MESSAGE_LINK_EXPIRED.format(duration=duration))
    except services.LinkInvalid:
        return _refused(request, 403, "Link not valid", MESSAGE_LINK_INVALID)
    payload = export_payload(export)
    if payload["state"] == Export.State.EXPIRED:
        return _refused(request, 410, "Export expired", MESSAGE_FILE_EXPIRED)
    if payload["download_url"] is None:
        raise Http404(MESSAGE_NOT_READY)
    response = _file_response(export)
    services.export_mark_downloaded(export=export)
    return response


def _refused(request, status: int, title: str, message: str):
    if wants_json(request):
        return JsonResponse({"error": message}, status=status)
    context = {"status": status, "title": title, "message": message}
    return render(request, "reports/link_refused.html", context, status=status)


def _file_response(export: Export) -> HttpResponse:
    try:
        return private_file_response(
            storage=export.file.storage,
            name=export.file.name,
            content_type=services.CONTENT_TYPES[export.format],
            filename=export.download_filename,
            attachment=True,
            # The owner's data: no cache may keep it.
            cache_control="private, no-store",
        )
    except Http404:
        raise Http404(MESSAGE_NOT_READY) from None


# --- scheduled reports ----------------------------------------------------------------------------

MESSAGE_SCHEDULED = "Scheduled: {when}. Each run emails you its download link."


def _schedule_fields(form: ScheduleForm) -> dict:
    data = form.cleaned_data
    return {
        "kind": data["kind"],
        "format": data["file_format"],
        "columns": data["columns"],
        "filters": data["filters"],
        "frequency": data["frequency"],
        "at": data["at"],
        "day_of_week": data["day_of_week"],
        "day_of_month": data["day_of_month"],
        "range_days": data["range_days"],
    }


@require_POST
def schedule_create(request):
    form = ScheduleForm(request.POST, user=request.user)
    as_json = wants_json(request)
    if not form.is_valid():
        if as_json:
            return JsonResponse({"errors": _errors(form)}, status=400)
        return _render_index(request, ExportRequestForm(user=request.user), status=400, schedule_form=form)
    schedule = services.schedule_create(user=request.user, **_schedule_fields(form))
    if as_json:
        return JsonResponse(schedule_payload(schedule), status=201)
    messages.success(request, MESSAGE_SCHEDULED.format(when=services.schedule_describe(schedule=schedule)))
    return redirect(reverse("reports:index") + "#schedules")


def schedule_payload(schedule) -> dict:
    return {
        "id": schedule.pk,
        "kind": schedule.kind,
        "format": schedule.format,
        "columns": schedule.columns,
        "filters": schedule.filters,
        "when": services.schedule_describe(schedule=schedule),
        "time_zone": schedule.time_zone,
        "enabled": schedule.periodic_task.enabled,
        "paused_reason": schedule.paused_reason or None,
        "failures_in_a_row": schedule.failures_in_a_row,
    }


def _own_schedule(request, schedule_id: int):
    schedule = selectors.schedule_for_user(user=request.user, schedule_id=schedule_id)
    if schedule is None:
        raise Http404
    return schedule


@require_http_methods(["GET", "POST"])
@never_cache
def schedule_edit(request, schedule_id: int):
    schedule = _own_schedule(request, schedule_id)
    if request.method == "POST":
        form = ScheduleForm(request.POST, user=request.user)
        if form.is_valid():
            services.schedule_update(schedule=schedule, **_schedule_fields(form))
            if wants_json(request):
                return JsonResponse(schedule_payload(schedule))
            messages.success(request, f"Saved: {services.schedule_describe(schedule=schedule)}.")
            return redirect(reverse("reports:index") + "#schedules")
        if wants_json(request):
            return JsonResponse({"errors": _errors(form)}, status=400)
        status = 400
    else:
        form = ScheduleForm(
            user=request.user,
            initial={
                "kind": schedule.kind,
                "file_format": schedule.format,
                "frequency": schedule.frequency,
                "at": schedule.at,
                "day_of_week": schedule.day_of_week,
                "day_of_month": schedule.day_of_month,
                "range_days": schedule.range_days,
            },
        )
        status = 200
    context = {
        "schedule": schedule,
        "form": form,
        "groups": form.columns_for_page(current=(schedule.kind, schedule.columns, schedule.filters)),
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "reports/schedule_edit.html", context, status=status)


def _schedule_action(request, schedule_id: int, action, message: str):
    schedule = _own_schedule(request, schedule_id)
    action(schedule=schedule)
    if wants_json(request):
        if action is services.schedule_delete:
            return JsonResponse({"id": schedule_id, "deleted": True})
        schedule.periodic_task.refresh_from_db()
        return JsonResponse(schedule_payload(schedule))
    messages.success(request, message)
    return redirect(reverse("reports:index") + "#schedules")


@require_POST
def schedule_pause(request, schedule_id: int):
    return _schedule_action(request, schedule_id, services.schedule_pause, "The schedule is paused.")


@require_POST
def schedule_resume(request, schedule_id: int):
    return _schedule_action(request, schedule_id, services.schedule_resume, "The schedule runs again.")


@require_POST
def schedule_delete(request, schedule_id: int):
    return _schedule_action(request, schedule_id, services.schedule_delete, "The schedule is deleted.")
