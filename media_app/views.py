from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.accounts import quotas
from config.accounts.views import too_many
from config.core.converters import parse_id
from config.core.errors import HumanError
from config.core.humanize import percent
from config.core.negotiation import wants_json
from config.core.serving import private_file_response
from config.core.words import state_word

from . import imaging, selectors, services
from .forms import FocusForm, RenameForm, UploadForm
from .models import AS_JOB_STATE, Image, Rendition
from .uploads import SizeLimitUploadHandler

GALLERY_PAGE_SIZE = 48
# Originals a browser can show as they are: the before/after comparison offers only these.
BROWSER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "AVIF"}
# Image states shown with the job-state words and colours (app.css).
STATE_CSS = AS_JOB_STATE


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# --- presentation -------------------------------------------------------------------------------


def rendition_url(image_id: int, name: str, fmt: str, version: int | None = None) -> str:
    url = reverse("media_app:rendition", args=[image_id, name, Rendition.EXTENSIONS[fmt]])
    # Each rendition row has its own URL: a square cut again (same name) is never a cached old one.
    return f"{url}?v={version}" if version else url


def status_url(image: Image) -> str | None:
    return reverse("task_status", args=[image.job.task_id]) if image.job else None


# What each <source> offers, best first; the <img> itself takes the fallback (JPEG, or PNG).
SOURCE_TYPES = (("AVIF", "image/avif"), ("WEBP", "image/webp"))
# The slot each picture fills (app.css and media.css): the browser picks from srcset by it.
SIZES_LARGE = "(max-width: 600px) calc(100vw - 66px), (max-width: 1100px) calc(100vw - 82px), 1018px"
SIZES_TILE = "(max-width: 600px) calc(50vw - 20px), 260px"
SIZES_LISTED = "160px"
SIZES_FULL = "100vw"


def _srcset(renditions: list[Rendition], image_id: int) -> str:
    return ", ".join(
        f"{rendition_url(image_id, r.name, r.format, r.pk)} {r.width}w"
        for r in sorted(renditions, key=lambda r: r.width)
    )


def _picture(image: Image, renditions: list[Rendition], sizes: str) -> dict | None:
    """A <picture> over some renditions: a <source> per modern format, the fallback in <img>."""
    if not renditions:
        return None
    by_format: dict[str, list[Rendition]] = {}
    for r in renditions:
        by_format.setdefault(r.format, []).append(r)
    fallback = by_format.get(Rendition.Format.JPEG) or by_format.get(Rendition.Format.PNG) or renditions
    widest = max(fallback, key=lambda r: r.width)
    # The <img src> for browsers without srcset: the medium size, else the widest there is.
    plain = next((r for r in fallback if r.name == Rendition.Name.MEDIUM), widest)
    return {
        "sources": [
            (mime, _srcset(by_format[fmt], image.pk)) for fmt, mime in SOURCE_TYPES if fmt in by_format
        ],
        "srcset": _srcset(fallback, image.pk),
        "src": rendition_url(image.pk, plain.name, plain.format, plain.pk),
        "sizes": sizes,
        "width": widest.width,
        "height": widest.height,
    }


def _snippet(request, image: Image, rows: list[Rendition]) -> tuple[str, str]:
    """For one size: the absolute link of its fallback file, and a <picture> to paste into a page."""
    by_format = {r.format: r for r in rows}
    fallback = by_format.get(Rendition.Format.JPEG) or by_format.get(Rendition.Format.PNG) or rows[0]

    def absolute(r: Rendition) -> str:
        return request.build_absolute_uri(rendition_url(image.pk, r.name, r.format, r.pk))

    lines = ["<picture>"]
    lines += [
        f'  <source type="{mime}" srcset="{escape(absolute(by_format[fmt]))}">'
        for fmt, mime in SOURCE_TYPES
        if fmt in by_format
    ]
    lines.append(
        f'  <img src="{escape(absolute(fallback))}" width="{fallback.width}" height="{fallback.height}" '
        f'alt="{escape(image.title)}">'
    )
    lines.append("</picture>")
    return absolute(fallback), "\n".join(lines)


def _ladder(image: Image) -> list[Rendition]:
    return [r for r in image.renditions.all() if r.name != Rendition.Name.SQUARE]


def _named(image: Image, name: str) -> list[Rendition]:
    return [r for r in image.renditions.all() if r.name == name]


def image_payload(image: Image) -> dict:
    renditions = sorted(image.renditions.all(), key=lambda r: (-r.width, r.format))
    ladder = _ladder(image)
    return {
        "id": image.pk,
        "title": image.title,
        "state": image.current_state,
        "state_label": state_word(STATE_CSS[image.current_state]),
        "original": {
            "url": reverse("media_app:original", args=[image.pk]),
            "width": image.original_width,
            "height": image.original_height,
            "bytes": image.original_bytes,
            "format": image.original_format,
        },
        "renditions": [
            {
                "name": r.name,
                "format": r.format,
                "url": rendition_url(image.pk, r.name, r.format, r.pk),
                "width": r.width,
                "height": r.height,
                "bytes": r.bytes,
            }
            for r in renditions
        ],
        # Every width of the resized ladder, and per format the srcset a page would use.
        "widths": sorted({r.width for r in ladder}),
        "srcset": {
            fmt: _srcset([r for r in ladder if r.format == fmt], image.pk)
            for fmt in sorted({r.format for r in ladder})
        },
        "placeholder": {"thumbhash": image.placeholder} if image.placeholder else None,
        "focal_point": {"x": image.focal_x, "y": image.focal_y},
        "saving_percent": image.saving_percent,
        "error": image.current_error or None,
        "task_id": image.job.task_id if image.job else None,
        "status_url": status_url(image),
        "created_at": image.created_at.isoformat(),
    }


def _tile(image: Image) -> dict:
    state = image.current_state
    # Tiles are the square cut around the focal point; images made before squares existed show
    # their thumbnail, cropped by CSS.
    square = _named(image, Rendition.Name.SQUARE) or _named(image, Rendition.Name.THUMB)
    return {
        "image": image,
        "state": state,
        "state_css": STATE_CSS[state],
        "thumb": _picture(image, square, SIZES_TILE),
        # What the gallery's lightbox shows: the resized ladder, fitted to the screen.
        "full": _picture(image, _ladder(image), SIZES_FULL) if state == Image.State.READY else None,
        "status_url": status_url(image),
    }


def _by_day(tiles: list[dict]) -> list[tuple[str, list[dict]]]:
    """Tiles (newest first) grouped under the day they were uploaded, in the viewer's zone."""
    today = timezone.localdate()
    groups: list[tuple[str, list[dict]]] = []
    last = None
    for tile in tiles:
        day = timezone.localdate(tile["image"].created_at)
        if day != last:
            if day == today:
                label = "Today"
            elif (today - day).days == 1:
                label = "Yesterday"
            else:
                label = f"{day.day} {day:%B %Y}" if day.year != today.year else f"{day:%A} {day.day} {day:%B}"
            groups.append((label, []))
            last = day
        groups[-1][1].append(tile)
    return groups


# --- pages and API ------------------------------------------------------------------------------


@require_safe
def gallery(request):
    raw_batch = request.GET.get("batch") or ""
    batch_id = None
    # Anything but digits is ignored; digits name a batch, which must be one of this user's.
    if raw_batch.isascii() and raw_batch.isdigit():
        batch_id = parse_id(raw_batch)
        if batch_id is None or selectors.batch_for_user(user=request.user, batch_id=batch_id) is None:
            raise Http404
    images = selectors.images_for_user(user=request.user, batch_id=batch_id)
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    if wants_json(request):
        return JsonResponse(
            {
                "images": [image_payload(i) for i in page.object_list],
                "page": page.number,
                "pages": page.paginator.num_pages,
                "count": page.paginator.count,
            }
        )
    tiles = [_tile(i) for i in page.object_list]
    batch = None
    if batch_id is not None:
        states = [i.current_state for i in images]
        batch = {
            "total": len(states),
            "ready": states.count(Image.State.READY),
            "failed": states.count(Image.State.FAILED) + states.count(Image.State.CANCELLED),
        }
    return render(
        request,
        "media_app/gallery.html",
        {
            "page": page,
            "tiles": tiles,
            "days": _by_day(tiles),
            "batch_id": batch_id,
            "batch": batch,
            "any_pending": any(t["state"] not in Image.FINAL_STATES for t in tiles),
            "undo": request.session.pop(UNDO_SESSION_KEY, None),
            "grace": _grace_words(),
        },
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def upload(request):
    if request.method == "POST":
        # Before the body is read: a flood of uploads costs a Redis INCR each, not their bytes.
        wait = quotas.upload_attempt(user_id=request.user.pk)
        if wait:
            return too_many(request, wait, "uploads")
    # The size guard must be in place before anything reads the body, and the CSRF check reads
    # it; so the check runs inside, once the handler is installed (as Django's docs advise).
    limiter = SizeLimitUploadHandler(request, limit=settings.MEDIA_MAX_UPLOAD_BYTES)
    request.upload_handlers.insert(0, limiter)
    return _upload(request, limiter)


@csrf_protect
def _upload(request, limiter: SizeLimitUploadHandler):
    if request.method != "POST":
        return render(request, "media_app/upload.html", {"form": UploadForm(), **_limits()})
    data, files = request.POST, request.FILES  # the body is read here, through the limiter
    form = UploadForm(data, files, oversize=limiter.oversize, digests=limiter.digests.get("image"))
    if not form.is_valid():
        if wants_json(request):
            errors = {
                field: [e["message"] for e in errs] for field, errs in form.errors.get_json_data().items()
            }
            return JsonResponse({"errors": errors}, status=400)
        return render(request, "media_app/upload.html", {"form": form, **_limits()}, status=400)

    try:
        images = services.image_upload(owner=request.user, uploads=form.uploads())
    except quotas.QuotaExceeded as exc:
        return quota_exceeded(request, exc)
    first = images[0]
    batch_id = first.batch_id
    if wants_json(request):
        body = {
            "image_id": first.pk,
            "task_id": first.job.task_id,
            "status_url": status_url(first),
            # reused: the same bytes were uploaded before; this image shares that one's finished
            # job and files, so it is READY already (the status URL answers SUCCESS at once).
            "reused": first.reused,
            "images": [
                {"image_id": i.pk, "task_id": i.job.task_id, "status_url": status_url(i), "reused": i.reused}
                for i in images
            ],
            "batch_id": batch_id,
        }
        return JsonResponse(body, status=202)
    if len(images) == 1:
        messages.success(
            request,
            "You uploaded this picture before: it is ready."
            if first.reused
            else "Uploaded. Your picture is being compressed.",
        )
        return _see_other(reverse("media_app:detail", args=[first.pk]))
    messages.success(request, f"Uploaded {len(images)} pictures. We will tell you when all are ready.")
    return _see_other(f"{reverse('media_app:gallery')}?batch={batch_id}")


def quota_exceeded(request, exc: quotas.QuotaExceeded):
    if wants_json(request):
        body = {"error": exc.message, "used_bytes": exc.used, "allowed_bytes": exc.allowed}
        return JsonResponse({**body, "wanted_bytes": exc.wanted}, status=413)
    form = UploadForm()
    context = {"form": form, "quota_error": exc.message, **_limits()}
    return render(request, "media_app/upload.html", context, status=413)


def _limits() -> dict:
    return {
        "max_bytes": settings.MEDIA_MAX_UPLOAD_BYTES,
        "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "not_picture": imaging.MESSAGE_NOT_AN_IMAGE,
    }


@require_safe
@never_cache
def detail(request, pk: int):
    image = selectors.image_for_user(user=request.user, image_id=pk)
    if image is None:
        gone = (
            None if wants_json(request) else selectors.deleted_image_for_user(user=request.user, image_id=pk)
        )
        if gone is None:
            raise Http404
        # Still a 404 (the picture is gone for now), but one that says so and offers the undo.
        until = gone.deleted_at + timedelta(seconds=settings.MEDIA_DELETE_GRACE_SECONDS)
        return render(request, "media_app/deleted.html", {"image": gone, "until": until}, status=404)
    if wants_json(request):
        return JsonResponse(image_payload(image))
    return _detail_page(request, image, FocusForm(initial={"x": image.focal_x, "y": image.focal_y}))


def _detail_page(
    request, image: Image, focus_form: FocusForm, status: int = 200, rename_form: RenameForm | None = None
):
    state = image.current_state
    job = image.job
    listed = []
    for name in [*settings.MEDIA_RENDITION_SIZES, Rendition.Name.SQUARE]:
        rows = _named(image, name)
        if rows:
            formats = sorted(rows, key=lambda r: r.format)
            links = [(r.format, rendition_url(image.pk, r.name, r.format, r.pk), r.bytes) for r in formats]
            pic = _picture(image, rows, SIZES_LISTED)
            link, snippet = _snippet(request, image, rows)
            alt = f"{image.title}, {name} size ({pic['width']}×{pic['height']})"
            listed.append(
                {"name": name, "pic": pic, "links": links, "link": link, "snippet": snippet, "alt": alt}
            )
    return render(
        request,
        "media_app/detail.html",
        {
            "image": image,
            "state": state,
            "state_css": STATE_CSS[state],
            "is_final": state in Image.FINAL_STATES,
            "percent": percent(job.progress_current, job.progress_total) if job else None,
            "status_url": status_url(image),
            "pictures": listed,
            "large": _picture(image, _ladder(image), SIZES_LARGE),
            "square": _picture(image, _named(image, Rendition.Name.SQUARE), SIZES_LISTED),
            "focus_form": focus_form,
            "rename_form": rename_form or RenameForm(initial={"title": image.title}),
            "before_url": reverse("media_app:original", args=[image.pk])
            if image.original_format in BROWSER_FORMATS
            else None,
            "focal_percent": (round(image.focal_x * 100, 1), round(image.focal_y * 100, 1)),
        },
        status=status,
    )


@require_POST
def focus(request, pk: int):
    """Move the focal point: 202 with the job that cuts the squares again (200 if it did not move)."""
    image = selectors.image_for_user(user=request.user, image_id=pk)
    if image is None:
        raise Http404
    form = FocusForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            errors = {f: [e["message"] for e in errs] for f, errs in form.errors.get_json_data().items()}
            return JsonResponse({"errors": errors}, status=400)
        return _detail_page(request, image, form, status=400)
    try:
        job = services.image_set_focus(image=image, x=form.cleaned_data["x"], y=form.cleaned_data["y"])
    except HumanError as exc:
        if wants_json(request):
            return JsonResponse({"error": exc.message}, status=409)
        messages.error(request, exc.message)
        return _see_other(reverse("media_app:detail", args=[pk]))
    if wants_json(request):
        body = {
            "focal_point": {"x": image.focal_x, "y": image.focal_y},
            "task_id": job.task_id if job else None,
            "status_url": reverse("task_status", args=[job.task_id]) if job else None,
        }
        return JsonResponse(body, status=202 if job else 200)
    messages.success(
        request,
        "Focal point saved. The square crops are being cut again." if job else "Focal point unchanged.",
    )
    return _see_other(reverse("media_app:detail", args=[pk]))


# The pictures just deleted from a page without JavaScript: the next gallery page offers their undo.
UNDO_SESSION_KEY = "media_undo"


@require_POST
def delete(request, pk: int):
    image = selectors.image_for_user(user=request.user, image_id=pk)
    if image is None:
        raise Http404
    services.image_delete(image=image)
    if wants_json(request):
        return HttpResponse(status=204)
    request.session[UNDO_SESSION_KEY] = [{"id": image.pk, "title": image.title}]
    return _see_other(reverse("media_app:gallery"))


def _grace_words() -> str:
    seconds = settings.MEDIA_DELETE_GRACE_SECONDS
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


def _ids(request) -> list[int]:
    ids = [parse_id(raw) for raw in request.POST.getlist("ids")[:GALLERY_PAGE_SIZE]]
    return [i for i in dict.fromkeys(ids) if i is not None]


@require_POST
def delete_many(request):
    """Delete the chosen pictures (``ids``, at most a page of them; others' ids are ignored)."""
    images = [
        i for i in (selectors.image_for_user(user=request.user, image_id=pk) for pk in _ids(request)) if i
    ]
    if not images:
        if wants_json(request):
            return JsonResponse({"error": "Choose the pictures to delete."}, status=400)
        messages.error(request, "Choose the pictures to delete.")
        return _see_other(reverse("media_app:gallery"))
    for image in images:
        services.image_delete(image=image)
    if wants_json(request):
        return JsonResponse({"deleted": [i.pk for i in images]})
    request.session[UNDO_SESSION_KEY] = [{"id": i.pk, "title": i.title} for i in images]
    return _see_other(reverse("media_app:gallery"))


@require_POST
def restore_many(request):
    """Undo a delete of several pictures; 404 when none could be brought back."""
    restored = []
    try:
        for pk in _ids(request):
            if services.image_restore(user=request.user, image_id=pk):
                restored.append(pk)
    except quotas.QuotaExceeded as exc:
        if wants_json(request):
            return JsonResponse({"error": exc.message, "restored": restored}, status=413)
        messages.error(request, exc.message)
        return _see_other(reverse("media_app:gallery"))
    if not restored:
        raise Http404
    if wants_json(request):
        return JsonResponse({"restored": restored})
    if len(restored) == 1:
        messages.success(request, "Picture brought back.")
        return _see_other(reverse("media_app:detail", args=restored))
    messages.success(request, f"Brought back {len(restored)} pictures.")
    return _see_other(reverse("media_app:gallery"))


@require_POST
def restore(request, pk: int):
    """Undo a delete while the grace period lasts (docs/deletion.md); 404 when there is nothing to
    bring back, 413 when its bytes no longer fit the owner's storage."""
    try:
        restored = services.image_restore(user=request.user, image_id=pk)
    except quotas.QuotaExceeded as exc:
        if wants_json(request):
            return JsonResponse({"error": exc.message}, status=413)
        messages.error(request, exc.message)
        return _see_other(reverse("media_app:gallery"))
    if not restored:
        raise Http404
    if wants_json(request):
        return JsonResponse({"id": pk, "restored": True})
    messages.success(request, "Picture brought back.")
    return _see_other(reverse("media_app:detail", args=[pk]))


@require_POST
def rename(request, pk: int):
    image = selectors.image_for_user(user=request.user, image_id=pk)
    if image is None:
        raise Http404
    form = RenameForm(request.POST)
    if not form.is_valid():
        if wants_json(request):
            errors = {f: [e["message"] for e in errs] for f, errs in form.errors.get_json_data().items()}
            return JsonResponse({"errors": errors}, status=400)
        return _detail_page(
            request, image, FocusForm(initial={"x": image.focal_x, "y": image.focal_y}), 400, form
        )
    services.image_rename(image=image, title=form.cleaned_data["title"])
    if wants_json(request):
        return JsonResponse({"id": image.pk, "title": image.title})
    messages.success(request, "Renamed.")
    return _see_other(reverse("media_app:detail", args=[pk]))


# --- files --------------------------------------------------------------------------------------


@require_safe
def original(request, pk: int):
    image = selectors.original_for_user(user=request.user, image_id=pk)
    if image is None:
        raise Http404
    return private_file_response(
        storage=image.original.storage,
        name=image.original.name,
        content_type=imaging.CONTENT_TYPES.get(image.original_format, "application/octet-stream"),
        filename=f"original-{pk}.{imaging.EXTENSIONS.get(image.original_format, 'bin')}",
    )


FORMAT_BY_EXTENSION = {ext: fmt for fmt, ext in Rendition.EXTENSIONS.items()}


@require_safe
def rendition(request, pk: int, name: str, ext: str):
    fmt = FORMAT_BY_EXTENSION.get(ext)
    if fmt is None or name not in Rendition.Name.values:
        raise Http404
    found = selectors.rendition_for_user(user=request.user, image_id=pk, name=name, format=fmt)
    if found is None:
        raise Http404
    return private_file_response(
        storage=found.file.storage,
        name=found.file.name,
        content_type=found.content_type,
        filename=f"{pk}-{name}.{ext}",
    )
