"""The authorisation matrix, generated from the URL conf: every named URL must have an entry here,
so a new URL fails this test until someone decides who may open it.

anonymous browser -> login page · anonymous API client -> 404 · another user -> 404 (objects) ·
owner -> 200 · any POST without a CSRF token -> 403 (an anonymous one may get the login page
instead) · staff pages -> staff only · signed links cannot be forged, used after
expiry, used by someone else, or used for another purpose."""

from __future__ import annotations

import time
from dataclasses import dataclass
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.core.models import Job

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

PUBLIC, LOGIN, OWNER, STAFF, SIGNED = "public", "login", "owner", "staff", "signed"


@dataclass
class World:
    """What the matrix opens: one object of each kind, owned by ``owner``."""

    owner: object
    job: Job
    image: object
    export: object
    notification: object
    schedule: object = None
    archive: object = None


@dataclass(frozen=True)
class Entry:
    access: str
    path: object  # a str, or World -> str
    owner_status: int = 200  # what the owner gets for GET (or the anonymous visitor, if public)

    def url(self, world: World) -> str:
        return self.path(world) if callable(self.path) else self.path


def _download(w: World) -> str:
    from reports.services import export_download_url

    return export_download_url(export=w.export)


def _archive_download(w: World) -> str:
    from config.mydata.services import archive_download_url

    return archive_download_url(archive=w.archive)


def _unsubscribe(w: World) -> str:
    from notifications.selectors import unsubscribe_token

    return f"/notifications/unsubscribe/{unsubscribe_token(user=w.owner, kind='general')}/"


MATRIX: dict[str, Entry] = {
    # core
    "home": Entry(LOGIN, "/", 302),
    "signup": Entry(PUBLIC, "/accounts/signup/", 302),  # someone logged in is sent home
    "login": Entry(PUBLIC, "/accounts/login/"),
    "logout": Entry(LOGIN, "/accounts/logout/", 405),  # POST only
    "password_change": Entry(LOGIN, "/accounts/password_change/"),
    "password_change_done": Entry(LOGIN, "/accounts/password_change/done/"),
    "password_reset": Entry(PUBLIC, "/accounts/password_reset/"),
    "password_reset_done": Entry(PUBLIC, "/accounts/password_reset/done/"),
    "password_reset_confirm": Entry(PUBLIC, "/accounts/reset/MQ/forged-token/"),
    "password_reset_complete": Entry(PUBLIC, "/accounts/reset/done/"),
    "verify_email": Entry(PUBLIC, "/accounts/verify/forged-token/", 400),
    "verification_resend": Entry(LOGIN, "/accounts/verify/resend/", 405),  # POST only
    "time_zone_update": Entry(LOGIN, "/accounts/settings/time-zone/", 405),  # POST only
    "task_status": Entry(OWNER, lambda w: f"/tasks/{w.job.task_id}/"),
    "task_cancel": Entry(OWNER, lambda w: f"/tasks/{w.job.task_id}/cancel/", 405),  # POST only
    "task_stream": Entry(LOGIN, "/tasks/stream/", 400),  # without ids: nothing to watch
    # Staff sessions or the bearer token only: anyone else, logged in or not, gets a 404.
    "metrics": Entry(PUBLIC, "/metrics", 404),
    "mydata:index": Entry(LOGIN, "/mydata/"),
    "mydata:archive": Entry(LOGIN, "/mydata/archive/", 405),  # POST only
    "mydata:download": Entry(SIGNED, _archive_download),
    "mydata:delete": Entry(LOGIN, "/mydata/delete/"),
    "healthz": Entry(PUBLIC, "/healthz", 0),  # 200 or 503 by the state of beat: not an auth matter
    # media_app
    "media_app:gallery": Entry(LOGIN, "/media/"),
    "media_app:upload": Entry(LOGIN, "/media/upload/"),
    "media_app:detail": Entry(OWNER, lambda w: f"/media/{w.image.pk}/"),
    "media_app:delete": Entry(OWNER, lambda w: f"/media/{w.image.pk}/delete/", 405),
    "media_app:focus": Entry(OWNER, lambda w: f"/media/{w.image.pk}/focus/", 405),  # POST only
    "media_app:delete_many": Entry(LOGIN, "/media/delete/", 405),  # POST only
    "media_app:restore_many": Entry(LOGIN, "/media/restore/", 405),  # POST only
    "media_app:rename": Entry(OWNER, lambda w: f"/media/{w.image.pk}/rename/", 405),  # POST only
    "media_app:restore": Entry(OWNER, lambda w: f"/media/{w.image.pk}/restore/", 405),  # POST only
    "media_app:original": Entry(OWNER, lambda w: f"/media/{w.image.pk}/original"),
    "media_app:rendition": Entry(OWNER, lambda w: f"/media/{w.image.pk}/thumb.jpg"),
    # reports
    "reports:index": Entry(LOGIN, "/reports/"),
    "reports:export_create": Entry(LOGIN, "/reports/exports/", 405),  # POST only
    "reports:export_status": Entry(OWNER, lambda w: f"/reports/exports/{w.export.pk}/"),
    "reports:download": Entry(SIGNED, _download),
    "reports:schedule_create": Entry(LOGIN, "/reports/schedules/", 405),  # POST only
    "reports:schedule_edit": Entry(OWNER, lambda w: f"/reports/schedules/{w.schedule.pk}/"),
    "reports:schedule_pause": Entry(OWNER, lambda w: f"/reports/schedules/{w.schedule.pk}/pause/", 405),
    "reports:schedule_resume": Entry(OWNER, lambda w: f"/reports/schedules/{w.schedule.pk}/resume/", 405),
    "reports:schedule_delete": Entry(OWNER, lambda w: f"/reports/schedules/{w.schedule.pk}/delete/", 405),
    # notifications
    "notifications:index": Entry(LOGIN, "/notifications/"),
    "notifications:unread_count": Entry(LOGIN, "/notifications/unread-count/"),
    "notifications:mark_all_read": Entry(LOGIN, "/notifications/read-all/", 405),
    "notifications:mark_read": Entry(OWNER, lambda w: f"/notifications/{w.notification.pk}/read/", 405),
    "notifications:preferences": Entry(LOGIN, "/notifications/preferences/"),
    "notifications:unsubscribe": Entry(PUBLIC, _unsubscribe),
    # ops
    "ops:dashboard": Entry(STAFF, "/ops/dashboard/"),
    "ops:dashboard_now": Entry(STAFF, "/ops/dashboard/now/"),
}


def named_urls() -> set[str]:
    """Every named URL of the site except Django's admin (checked on its own below)."""
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str | None) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin":
                    continue
                ns = p.namespace
                walk(p, f"{namespace}:{ns}" if namespace and ns else ns or namespace)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver(), None)
    return names


def test_every_named_url_has_an_entry_in_the_matrix():
    missing = sorted(named_urls() - set(MATRIX))
    assert not missing, f"add these URLs to MATRIX in {__file__}: {missing}"
    stale = sorted(set(MATRIX) - named_urls())
    assert not stale, f"these MATRIX entries name no URL any more: {stale}"


@pytest.fixture
def world(celery_worker, user, wait_job, testdata) -> World:
    from notifications.services import notify
    from reports.services import export_request

    owner = Client()
    owner.force_login(user)
    photo = (testdata / "images" / "pillow" / "hopper.jpg").read_bytes()
    body = owner.post(
        "/media/upload/",
        {"image": SimpleUploadedFile("hopper.jpg", photo, "image/jpeg")},
        HTTP_ACCEPT="application/json",
    ).json()
    export = export_request(user=user, kind="job_history")
    from config.mydata.services import archive_request

    archive = archive_request(user=user)
    assert wait_job(body["task_id"]).state == "SUCCESS"
    assert wait_job(export.job.task_id).state == "SUCCESS"
    assert wait_job(archive.job.task_id, timeout=120).state == "SUCCESS"
    from media_app.models import Image
    from reports.models import Export

    return World(
        owner=user,
        job=Job.objects.get(task_id=body["task_id"]),
        image=Image.objects.get(pk=body["image_id"]),
        export=Export.objects.get(pk=export.pk),
        notification=notify(user=user, kind="general", title="Hello", email=False),
        schedule=_schedule(user),
        archive=type(archive).objects.get(pk=archive.pk),
    )


def _schedule(user):
    from datetime import time as clock_time

    from reports.services import schedule_create

    return schedule_create(
        user=user,
        kind="job_history",
        format="csv",
        columns=[],
        filters={},
        frequency="daily",
        at=clock_time(8),
    )


def test_authorisation_matrix(world, user, other_user, make_user):
    staff = make_user("staffer", is_staff=True)
    clients = {}
    for who, person in (("owner", user), ("other", other_user), ("staff", staff), ("anonymous", None)):
        clients[who] = Client()
        if person is not None:
            clients[who].force_login(person)
    html = {"HTTP_ACCEPT": "text/html"}
    api = {"HTTP_ACCEPT": "application/json"}
    failures = []

    def expect(name, who, got, want):
        if not want(got):
            failures.append(f"{name}: {who} got {got.status_code} {got.get('Location', '')}")

    def login_redirect(r):
        return r.status_code == 302 and r["Location"].startswith(("/accounts/login/", "/admin/login/"))

    for name, entry in sorted(MATRIX.items()):
        url = entry.url(world)
        anon_page = clients["anonymous"].get(url, **html)
        anon_api = clients["anonymous"].get(url, **api)
        if entry.access == PUBLIC:
            expect(name, "anonymous", anon_page, lambda r: r.status_code != 500 and not login_redirect(r))
        else:
            expect(name, "anonymous browser", anon_page, login_redirect)
            expect(name, "anonymous API client", anon_api, lambda r: r.status_code == 404)
        if entry.access in (OWNER, SIGNED):
            # Someone else's object, or a valid link in someone else's hands, opens nothing. POST-only
            # URLs (owner_status 405) are tried with a POST (this client does not enforce CSRF).
            send = clients["other"].post if entry.owner_status == 405 else clients["other"].get
            expect(name, "another user", send(url, **html), lambda r: r.status_code == 404)
            expect(name, "another user (API)", send(url, **api), lambda r: r.status_code == 404)
        if entry.access == STAFF:
            expect(name, "non-staff user", clients["owner"].get(url, **html), lambda r: r.status_code != 200)
            expect(name, "staff", clients["staff"].get(url, **html), lambda r: r.status_code == 200)
        elif entry.owner_status:
            want = entry.owner_status
            got = clients["owner"].get(url, **html)
            expect(name, "owner", got, lambda r, want=want: r.status_code == want)
        # Every POST needs the CSRF token. Someone logged in gets 403; an anonymous visitor gets 403,
        # or the login page where the URL needs a login (nothing is done either way).
        strict = Client(enforce_csrf_checks=True)
        got = strict.post(url, {}, **html)
        expect(name, "anonymous POST without CSRF", got, lambda r: r.status_code == 403 or login_redirect(r))
        strict.force_login(user)
        expect(name, "owner POST without CSRF", strict.post(url, {}, **html), lambda r: r.status_code == 403)
    assert not failures, "\n".join(failures)


def test_django_admin_is_for_staff_only(client, other_client):
    assert client.get("/admin/", HTTP_ACCEPT="text/html")["Location"].startswith("/admin/login/")
    refused = other_client.get("/admin/", HTTP_ACCEPT="text/html")
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")


def test_signed_download_links_cannot_be_forged_expired_or_repurposed(world, other_client, owner_client):
    from notifications.selectors import unsubscribe_token
    from reports.services import export_download_token

    export = world.export
    good = export_download_token(export=export)
    base = f"/reports/exports/{export.pk}/download/"
    assert owner_client.get(base + good + "/").status_code == 200
    # Forged: altered signature, altered payload, a token for another export id.
    forged = [good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "e30:1abc:forged", "x" * 40]
    for token in forged:
        assert owner_client.get(base + token + "/").status_code == 403, token
    # Another purpose: a valid signature made for unsubscribing is no download token, and back.
    other_purpose = unsubscribe_token(user=world.owner, kind="general")
    assert owner_client.get(base + other_purpose + "/").status_code == 403
    assert owner_client.get(f"/notifications/unsubscribe/{good}/").status_code == 404
    # Used after expiry: a token signed longer ago than REPORTS_LINK_MAX_AGE.
    from django.conf import settings

    past = time.time() - settings.REPORTS_LINK_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=past):
        old = export_download_token(export=export)
    assert owner_client.get(base + old + "/").status_code == 410
    # Someone else holding the owner's valid link: 404, as if it did not exist.
    assert other_client.get(base + good + "/").status_code == 404
