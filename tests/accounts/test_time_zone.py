"""A time zone per person (issue 16.5): chosen at sign-up (the browser's), changed under Settings,
and used by every page through the middleware."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from config.accounts.models import Profile
from config.accounts.selectors import time_zone_for
from tests.helpers import HTML, JSON

pytestmark = pytest.mark.django_db


def sign_up(client, **extra):
    form = {
        "username": "berta",
        "email": "berta@example.com",
        "password1": "a-long-pass-phrase-1",
        "password2": "a-long-pass-phrase-1",
        **extra,
    }
    return client.post("/accounts/signup/", form, **HTML)


def test_sign_up_keeps_the_time_zone_the_browser_gave(client, smtp_server):
    page = client.get("/accounts/signup/", **HTML).content.decode()
    # The select is preselected from the browser's Intl zone by accounts/time_zone.js.
    assert 'name="time_zone"' in page and "data-from-browser" in page and "accounts/time_zone.js" in page
    assert '<option value="America/New_York">' in page

    response = sign_up(client, time_zone="America/New_York")
    assert response.status_code == 302
    user = get_user_model().objects.get(username="berta")
    assert Profile.objects.get(user=user).time_zone == "America/New_York"
    assert time_zone_for(user=user) == "America/New_York"


def test_sign_up_without_a_zone_takes_the_sites_and_an_unknown_one_is_refused(client, settings, smtp_server):
    response = sign_up(client, time_zone="Mars/Olympus_Mons")
    assert response.status_code == 400
    assert "Choose a time zone from the list" in response.content.decode()
    assert not get_user_model().objects.filter(username="berta").exists()

    assert sign_up(client).status_code == 302
    assert time_zone_for(user=get_user_model().objects.get(username="berta")) == settings.TIME_ZONE


def test_settings_change_the_zone_and_pages_show_times_in_it(owner_client, user):
    from reports.models import Export

    export = Export.objects.create(
        owner=user, kind="job_history", state="FAILURE", created_at=datetime(2026, 7, 1, 6, 5, tzinfo=UTC)
    )
    # More than a day ago: the date itself, in the viewer's zone, naming it (config.core.times.zoned).
    assert "Asked <time" in (page := owner_client.get("/reports/", **HTML).content.decode())
    assert "1 Jul 2026, 06:05 (UTC)" in page

    settings_page = owner_client.get("/notifications/preferences/", **HTML).content.decode()
    assert 'action="/accounts/settings/time-zone/"' in settings_page
    assert '<option value="UTC" selected>' in settings_page

    response = owner_client.post(
        "/accounts/settings/time-zone/",
        {"time_zone": "Europe/Berlin", "next": "/notifications/preferences/"},
        **HTML,
    )
    assert response.status_code == 302 and response["Location"] == "/notifications/preferences/"
    assert time_zone_for(user=user) == "Europe/Berlin"
    assert (
        '<option value="Europe/Berlin" selected>'
        in owner_client.get("/notifications/preferences/").content.decode()
    )
    # 06:05 UTC on 1 July is 08:05 in Berlin (summer time), on the very next page.
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert "1 Jul 2026, 08:05 (Europe/Berlin)" in page
    assert export.pk


def test_an_unknown_zone_is_a_400_with_the_sentence_and_changes_nothing(owner_client, user):
    response = owner_client.post("/accounts/settings/time-zone/", {"time_zone": "Europe/Atlantis"}, **HTML)
    assert response.status_code == 400
    assert "Choose a time zone from the list" in response.content.decode()
    response = owner_client.post("/accounts/settings/time-zone/", {"time_zone": ""}, **JSON)
    assert response.status_code == 400 and response.json()["errors"]["time_zone"]
    assert not Profile.objects.filter(user=user).exists()


def test_the_zone_change_needs_csrf_and_a_login(user):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post("/accounts/settings/time-zone/", {"time_zone": "Asia/Tokyo"}).status_code == 403
    anonymous = Client().post("/accounts/settings/time-zone/", {"time_zone": "Asia/Tokyo"}, **JSON)
    assert anonymous.status_code == 404
    assert time_zone_for(user=user) != "Asia/Tokyo"


def test_the_zone_is_read_once_per_session_not_per_request(owner_client, user, django_assert_num_queries):
    Profile.objects.create(user=user, time_zone="Asia/Tokyo")
    owner_client.get("/notifications/unread-count/")  # first request: reads the profile, keeps it
    with django_assert_num_queries(3):  # session, user, the unread count: no profile read
        assert owner_client.get("/notifications/unread-count/").status_code == 200
