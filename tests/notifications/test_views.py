"""In-app notifications, the badge count, preferences and unsubscribe links (no worker needed:
these tests create notifications without email, or never commit, so nothing is sent)."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications import selectors, services
from notifications.models import EmailState, Notification, Preference
from tests.helpers import HTML, JSON

pytestmark = pytest.mark.django_db

# The badge's count, after the words a screen reader says before it.
BADGE = r'id="unread-badge"[^>]*{attrs}>(?:<span class="visually-hidden">unread: </span>)?{n}</span>'


def make(user, n=1, **extra):
    return [
        services.notify(user=user, kind="images_ready", title=f"Batch {i} ready", email=False, **extra)
        for i in range(n)
    ]


def unread(client):
    return client.get("/notifications/unread-count/", **JSON).json()


def test_unread_count_follows_mark_read_and_mark_all(owner_client, user, other_user):
    first, second, _third = make(user, 3)
    make(other_user, 2)
    assert unread(owner_client) == {"unread": 3}

    response = owner_client.post(f"/notifications/{second.pk}/read/", **JSON)
    assert response.json() == {"id": second.pk, "read": True, "unread": 2}
    assert unread(owner_client) == {"unread": 2}
    # Marking it again changes nothing.
    assert owner_client.post(f"/notifications/{second.pk}/read/", **JSON).json()["unread"] == 2

    response = owner_client.post(
        f"/notifications/{first.pk}/read/", {"next": "/notifications/?page=1"}, **HTML
    )
    assert response.status_code == 302 and response["Location"] == "/notifications/?page=1"
    assert unread(owner_client) == {"unread": 1}

    response = owner_client.post("/notifications/read-all/", **HTML)
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert unread(owner_client) == {"unread": 0}
    assert selectors.unread_count(user=other_user) == 2


def test_mark_read_is_owner_scoped_and_post_only(owner_client, other_user):
    [theirs] = make(other_user)
    assert owner_client.post(f"/notifications/{theirs.pk}/read/", **JSON).status_code == 404
    assert owner_client.post("/notifications/999999/read/", **JSON).status_code == 404
    assert owner_client.get(f"/notifications/{theirs.pk}/read/", **JSON).status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_refuses_an_offsite_next(owner_client, user):
    [mine] = make(user)
    response = owner_client.post(f"/notifications/{mine.pk}/read/", {"next": "https://evil.example/"}, **HTML)
    assert response["Location"] == "/notifications/"


def test_mark_read_needs_csrf(user):
    [mine] = make(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/notifications/{mine.pk}/read/", **JSON).status_code == 403
    assert client.post("/notifications/read-all/", **JSON).status_code == 403
    mine.refresh_from_db()
    assert mine.read_at is None


def test_unread_count_is_one_indexed_count(owner_client, user):
    make(user, 4)
    with CaptureQueriesContext(connection) as queries:
        assert unread(owner_client) == {"unread": 4}
    ours = [q["sql"] for q in queries if "notifications_notification" in q["sql"]]
    assert len(ours) == 1 and "COUNT(" in ours[0].upper()
    assert "read_at" in ours[0] and "recipient_id" in ours[0]
    index_fields = {tuple(i.fields) for i in Notification._meta.indexes}
    assert ("recipient", "read_at") in index_fields


def test_anonymous_gets_login_or_404():
    client = Client()
    assert client.get("/notifications/unread-count/", **JSON).status_code == 404
    response = client.get("/notifications/", **HTML)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_lists_newest_first_with_badge_and_only_mine(owner_client, user, other_user):
    old, new = make(user, 2)
    Notification.objects.filter(pk=old.pk).update(created_at=new.created_at.replace(year=2020))
    services.notify(user=other_user, kind="general", title="Not for alice", email=False)
    page = owner_client.get("/notifications/", **HTML).content.decode()
    assert page.index("Batch 1 ready") < page.index("Batch 0 ready")
    assert "Not for alice" not in page
    assert re.search(BADGE.format(attrs="", n=2), page)
    assert 'class="site-header"' in page  # extends base.html
    owner_client.post("/notifications/read-all/", **JSON)
    page = owner_client.get("/notifications/", **HTML).content.decode()
    assert re.search(BADGE.format(attrs="hidden[^>]*", n=0), page)
    assert "Mark read</button>" not in page


def test_badge_shows_on_other_pages(owner_client, user):
    make(user, 3)
    page = owner_client.get("/notifications/preferences/", **HTML).content.decode()
    assert re.search(BADGE.format(attrs="", n=3), page)


def test_preferences_turn_email_off_per_kind(owner_client, user):
    page = owner_client.get("/notifications/preferences/", **HTML).content.decode()
    assert 'name="export_ready"' in page and "checked" in page
    response = owner_client.post(
        "/notifications/preferences/", {"welcome": "on", "images_ready": "on"}, **HTML
    )
    assert response.status_code == 302
    choices = selectors.email_preferences(user=user)
    assert choices["images_ready"] is True and choices["export_ready"] is False
    notification = services.notify(user=user, kind="export_ready", title="Export ready")
    assert notification.email_state == EmailState.SKIPPED and notification.job is None
    # In-app is always on.
    assert unread(owner_client) == {"unread": 1}


def test_unsubscribe_link_works_without_login_and_needs_post(user):
    token = selectors.unsubscribe_token(user=user, kind="images_ready")
    client = Client(enforce_csrf_checks=True)
    url = f"/notifications/unsubscribe/{token}/"
    page = client.get(url, **HTML)
    assert page.status_code == 200 and "Stop these emails?" in page.content.decode()
    assert selectors.email_enabled(user=user, kind="images_ready") is True  # a GET changes nothing
    assert client.post(url, **HTML).status_code == 403  # CSRF
    response = client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}, **HTML)
    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()
    assert selectors.email_enabled(user=user, kind="images_ready") is False
    assert selectors.email_enabled(user=user, kind="export_ready") is True


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "nonsense"])
def test_forged_unsubscribe_token_is_404(user, mangle):
    token = mangle(selectors.unsubscribe_token(user=user, kind="images_ready"))
    assert Client().get(f"/notifications/unsubscribe/{token}/", **HTML).status_code == 404
    assert not Preference.objects.exists()


def test_unsubscribe_token_from_another_purpose_is_refused(user):
    from django.core import signing

    token = signing.dumps([user.pk, "images_ready"], salt="reports.download")
    assert Client().get(f"/notifications/unsubscribe/{token}/", **HTML).status_code == 404


def test_email_unsubscribe_link_points_at_the_view(user, settings):
    [notification] = make(user)
    content = services.email_content(notification)
    url = content.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(settings.SITE_URL + "/notifications/unsubscribe/")
    assert Client().get(url.removeprefix(settings.SITE_URL), **HTML).status_code == 200


def test_unknown_kind_is_kept_as_general(user):
    notification = services.notify(user=user, kind="brand_new_kind", title="Hi", email=False)
    assert notification.kind == "general"


def test_title_is_kept_to_one_line(user):
    notification = services.notify(user=user, kind="general", title="a\r\nBcc: x@example.com", email=False)
    assert notification.title == "a Bcc: x@example.com"


def test_sign_up_form_refuses_a_newline_in_the_name(client, django_user_model):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "eve\nBcc: x@example.com",
            "email": "eve@example.com\nBcc: x@example.com",
            "password1": "Sturdy-pass-91",
            "password2": "Sturdy-pass-91",
        },
        **HTML,
    )
    assert response.status_code == 400
    assert not django_user_model.objects.exists()


def test_admin_filters_by_kind_read_state_and_email_state(admin_client, user):
    read, unread_failed = make(user, 2)
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    Notification.objects.filter(pk=unread_failed.pk).update(email_state="failed", email_error="550 no")
    base = "/admin/notifications/notification/"
    for query, expected in [
        ("?read=no&email_state__exact=failed&kind__exact=images_ready", [unread_failed.pk]),
        ("?read=yes", [read.pk]),
        ("?email_state__exact=sent", []),
    ]:
        response = admin_client.get(base + query)
        assert response.status_code == 200
        assert sorted(o.pk for o in response.context["cl"].result_list) == expected
    page = admin_client.get(f"{base}{unread_failed.pk}/change/").content.decode()
    assert "550 no" in page


def test_only_site_paths_and_web_links_are_kept(user):
    kept = services.notify(user=user, kind="general", title="a", link="/reports/1/", email=False)
    dropped = services.notify(user=user, kind="general", title="b", link="javascript:alert(1)", email=False)
    assert kept.link == "/reports/1/" and dropped.link == ""
