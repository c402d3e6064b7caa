"""One content-negotiation rule in every app: JSON unless the client prefers HTML."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from config.core.negotiation import wants_json
from media_app.models import Image

pytestmark = pytest.mark.django_db

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
# What each Accept header gets; None is a request without one (Django's test client, most scripts).
ACCEPTS = {
    None: "json",
    "*/*": "json",  # curl
    "application/json": "json",
    "text/html": "html",
    BROWSER: "html",
}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        *ACCEPTS.items(),
        ("", "json"),
        ("image/png", "json"),  # nothing we serve: JSON, which says what went wrong
        ("text/html;q=0.5, application/json", "json"),
        ("application/json;q=0.5, text/html", "html"),
        ("application/json, text/html", "json"),  # equal: the header's order decides
        ("text/html, application/json", "html"),
        ("text/*", "html"),
    ],
)
def test_the_rule(accept, expected):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    assert wants_json(RequestFactory().get("/", **headers)) is (expected == "json")


def send(client: Client, method: str, url: str, accept: str | None, data: dict | None = None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return getattr(client, method)(url, data or {}, **headers)


def kind(response) -> str:
    content_type = response["Content-Type"]
    if content_type.startswith("application/json"):
        return "json"
    if content_type.startswith("text/html") or response.status_code in (302, 303):
        return "html"  # a page, or a browser's redirect to one
    return content_type


@pytest.mark.parametrize("accept", list(ACCEPTS))
def test_every_app_answers_each_accept_header_the_same_way(owner_client, user, accept):
    image = Image.objects.create(owner=user, original="media/x/n.jpg", original_format="JPEG")
    expected = ACCEPTS[accept]
    answers = {
        "media gallery": send(owner_client, "get", "/media/", accept),
        "media detail": send(owner_client, "get", f"/media/{image.pk}/", accept),
        "media upload, nothing sent": send(owner_client, "post", "/media/upload/", accept),
        "reports, a bad request": send(owner_client, "post", "/reports/exports/", accept, {"kind": "nope"}),
        "notifications, mark all read": send(owner_client, "post", "/notifications/read-all/", accept),
        "a page that does not exist": send(owner_client, "get", "/no-such-page/", accept),
        "an anonymous visitor": send(Client(), "get", "/media/", accept),
    }
    assert {name: kind(response) for name, response in answers.items()} == dict.fromkeys(answers, expected)
    # The same statuses either way: only the body's shape follows the header.
    assert answers["media upload, nothing sent"].status_code == 400
    assert answers["reports, a bad request"].status_code == 400
    assert answers["a page that does not exist"].status_code == 404
    assert answers["an anonymous visitor"].status_code == (404 if expected == "json" else 302)
