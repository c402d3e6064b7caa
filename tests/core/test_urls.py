"""Every URL of the site, with hostile path segments, as anyone: never a 500.

The URL conf is walked, not listed, so a URL added later is covered without touching this file.
Each placeholder (``<id:pk>``, ``<slug:name>``, ``<path:object_id>``, a regex group …) is filled
with huge, negative, unicode, percent-encoded and empty segments while the others name real rows,
so a request gets as far as the view and its queries. Anonymous, a user and a superuser; GET and
POST (with a CSRF token); HTML and JSON clients. Django's test client: no server is needed to
reach a view's queries, and an exception surfaces here with its traceback.
"""

from __future__ import annotations

import itertools
import re
import secrets
import sys
import types
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client
from django.urls import URLPattern, path
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config.core.checks import url_patterns
from config.core.converters import ID_MAX, parse_id
from config.core.models import Job

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
GROUP = re.compile(r"\(\?P<(?P<name>\w+)>")
HUGE = "9999999999999999999999999"
# The hand-picked segments every placeholder of every URL gets, one at a time.
HOSTILE = (
    HUGE,
    str(ID_MAX + 1),
    str(2**64),
    "-1",
    "0",
    "",
    "é",
    "²",  # str.isdigit() says yes, int() says no
    "%ZZ",
    "%C3%28",  # a percent-encoded byte sequence that is not UTF-8
    "%2F..%2F",
    "a b",
)


def _route(pattern) -> list[str | tuple[str]]:
    """A pattern as pieces: literal text, and a 1-tuple (name,) for each placeholder."""
    text = str(pattern)
    if type(pattern).__name__ == "RegexPattern":
        text = text.removeprefix("^").removesuffix("$")
        pieces: list[str | tuple[str]] = []
        while match := GROUP.search(text):
            end, depth = match.end(), 1
            while depth:  # the group's own closing parenthesis
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            pieces += [text[: match.start()], (match["name"],)]
            text = text[end:]
        pieces.append(text)
        literal = "".join(p for p in pieces if isinstance(p, str))
        assert not re.search(r"[\\^$()\[\]*+?|{}]", literal), f"teach _route this regex: {pattern}"
        return pieces
    pieces, last = [], 0
    for match in PLACEHOLDER.finditer(text):
        pieces += [text[last : match.start()], (match["name"],)]
        last = match.end()
    pieces.append(text[last:])
    return pieces


def routes() -> list[tuple[str, list, URLPattern]]:
    found = []
    for patterns, endpoint in url_patterns():
        pieces = [piece for pattern in patterns for piece in _route(pattern)]
        label = "".join(p if isinstance(p, str) else f"<{p[0]}>" for p in pieces)
        found.append((label, pieces, endpoint))
    return found


ROUTES = routes()


def test_the_walk_finds_the_urls_that_take_ids():
    labels = {label for label, _, _ in ROUTES}
    assert "media/<pk>/<name>.<ext>" in labels and "reports/exports/<export_id>/" in labels
    assert "admin/<app_label>/" in labels  # a regex group is filled too


@pytest.fixture
def site(make_user, django_user_model):
    """Real rows for the placeholders a request does not attack, so it reaches the view's queries."""
    from media_app.models import Image, Rendition
    from notifications.models import Notification
    from reports.models import Export
    from reports.services import export_download_token

    owner = make_user()
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456!")
    job = Job.objects.create(
        task_id=str(uuid.uuid4()), owner=owner, kind="media.compress", task_name="media_app.compress_image"
    )
    image = Image(owner=owner, title="pic", original_format="JPEG", job=job)
    image.original.save("x.jpg", ContentFile(b"\xff\xd8 not really"), save=False)
    image.save()
    for fmt in ("JPEG", "WEBP"):
        Rendition.objects.create(
            image=image, name="thumb", format=fmt, file=image.original.name, width=1, height=1, bytes=1
        )
    export = Export.objects.create(owner=owner, kind=Export.Kind.MEDIA_INVENTORY, state=Export.State.SUCCESS)
    note = Notification.objects.create(recipient=owner, kind="export_ready", title="t")
    values = {
        "media/": {"pk": image.pk},
        "notifications/": {"pk": note.pk},
        "": {
            "export_id": export.pk,
            "task_id": job.task_id,
            "name": "thumb",
            "ext": "jpg",
            "object_id": owner.pk,
            "id": owner.pk,
            "app_label": "media_app",
            "content_type_id": 1,
        },
    }
    token = export_download_token(export=export)
    return {"users": {"anonymous": None, "user": owner, "superuser": admin}, "values": values, "token": token}


def plausible(site, label: str, name: str) -> str:
    if name == "token" and label.startswith("reports/"):
        return site["token"]
    for prefix in (label.split("/")[0] + "/", ""):
        if name in site["values"].get(prefix, {}):
            return str(site["values"][prefix][name])
    return "x"


def url_for(pieces, fill) -> str:
    return "/" + "".join(p if isinstance(p, str) else fill(p[0]) for p in pieces)


def request(site, who: str, method: str, url: str, accept: str):
    """One request as ``who``; a POST carries a valid CSRF token, as a browser's would."""
    client = Client(enforce_csrf_checks=True)
    if site["users"][who] is not None:
        client.force_login(site["users"][who])
    token = secrets.token_hex(16)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    headers = {"HTTP_ACCEPT": accept, "HTTP_X_CSRFTOKEN": token}
    return client.get(url, **headers) if method == "get" else client.post(url, {}, **headers)


def assert_no_server_error(response, endpoint: URLPattern, url: str) -> None:
    status = response.status_code
    # /healthz says 503 when a part is down (no beat runs here): that is its answer, not an error.
    if endpoint.name == "healthz" and status == 503:
        return
    assert status < 500, (url, status, response.content[:300])


WHO = ("anonymous", "user", "superuser")
ACCEPT = ("text/html,*/*", "application/json", "")
COMBOS = [(who, method, accept) for who in WHO for method in ("get", "post") for accept in ACCEPT]
# Everyone, both ways, each time with another kind of client.
EVERYONE = [
    (who, method, ACCEPT[i % 3]) for i, (who, method) in enumerate(itertools.product(WHO, ("get", "post")))
]


@pytest.mark.parametrize(
    ("label", "pieces", "endpoint"), ROUTES, ids=[label or "/" for label, _, _ in ROUTES]
)
def test_hostile_segments_never_cause_a_server_error(site, label, pieces, endpoint):
    """The URL with real rows, and a huge id in each place, as everyone, both ways; each other
    hostile segment in each place as one of them in turn (every combination gets its share)."""
    names = [p[0] for p in pieces if isinstance(p, tuple)]

    def url(target: str | None = None, value: str = "") -> str:
        return url_for(pieces, lambda name: value if name == target else plausible(site, label, name))

    cases = [(url(), combo) for combo in EVERYONE]
    turn = 0
    for target in names:
        cases += [(url(target, HUGE), combo) for combo in EVERYONE]
        for value in HOSTILE[1:]:
            cases.append((url(target, value), COMBOS[turn % len(COMBOS)]))
            turn += 1
    for address, (who, method, accept) in cases:
        assert_no_server_error(request(site, who, method, address, accept), endpoint, address)


SEGMENTS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=ID_MAX - 2, max_value=10**30).map(str),
    st.text(max_size=30),
    st.text(max_size=10).map(lambda t: quote(t, safe="")),
    st.lists(st.integers(0, 255), max_size=6).map(lambda bs: "".join(f"%{b:02X}" for b in bs)),
    st.sampled_from(HOSTILE),
)
FUZZ = hsettings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WITH_PLACEHOLDERS = [r for r in ROUTES if any(isinstance(p, tuple) for p in r[1])]


@given(data=st.data())
@FUZZ
def test_arbitrary_segments_never_cause_a_server_error(site, data):
    """Hypothesis picks the URL, each segment (or a real row's), who asks, the method, the client."""
    label, pieces, endpoint = data.draw(st.sampled_from(WITH_PLACEHOLDERS), label="route")
    names = [p[0] for p in pieces if isinstance(p, tuple)]
    values = {
        name: data.draw(st.one_of(SEGMENTS, st.just(plausible(site, label, name))), label=name)
        for name in names
    }
    url = url_for(pieces, values.__getitem__)
    who, method, accept = data.draw(st.sampled_from(COMBOS), label="who, method, accept")
    assert_no_server_error(request(site, who, method, url, accept), endpoint, url)


def test_an_out_of_range_id_is_a_404_for_its_owner(site):
    owner = site["users"]["user"]
    client = Client()
    client.force_login(owner)
    image_pk = site["values"]["media/"]["pk"]
    assert client.get(f"/media/{image_pk}/thumb.jpg").status_code == 200
    for url in (f"/media/{HUGE}/thumb.jpg", f"/media/{ID_MAX + 1}/", f"/reports/exports/{HUGE}/"):
        assert client.get(url, HTTP_ACCEPT="application/json").status_code == 404, url
    assert client.post(f"/notifications/{HUGE}/read/").status_code == 404
    # In a query string too: the gallery's batch filter.
    assert client.get(f"/media/?batch={HUGE}").status_code == 404
    assert client.get("/media/?batch=²").status_code == 200  # not digits: ignored, as any other text


def test_the_id_range_is_the_pk_columns_range_on_this_database():
    _, high = connection.ops.integer_field_range("BigAutoField")
    assert (high, settings.DEFAULT_AUTO_FIELD) == (ID_MAX, "django.db.models.BigAutoField")
    assert parse_id(str(ID_MAX)) == ID_MAX and parse_id(str(ID_MAX + 1)) is None
    assert parse_id("0") is None and parse_id("-1") is None and parse_id("²") is None
    assert parse_id("007") == 7 and parse_id("1" * 41) is None


def test_a_url_with_a_bare_int_converter_fails_the_system_check(settings):
    module = types.ModuleType("unbounded_urls")
    module.urlpatterns = [path("things/<int:pk>/", lambda request, pk: None, name="thing")]
    sys.modules["unbounded_urls"] = module
    settings.ROOT_URLCONF = "unbounded_urls"
    try:
        with pytest.raises(SystemCheckError, match=r"core\.E001"):
            call_command("check")
    finally:
        del sys.modules["unbounded_urls"]


def test_the_site_passes_its_own_url_check():
    call_command("check")
