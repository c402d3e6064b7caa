"""A database that went away (a restart, a failover) answers 503 with a human message and a
Retry-After, never a 500: whether the error comes from a view or from a middleware loading the
session. tests/hosts' postgres_restarted_under_load scenario asserts the same across hosts."""

import uuid

import pytest
from django.db import connection
from django.test import Client

from config.core.errors import MESSAGE_DATABASE_UNAVAILABLE
from tests.testdata import TESTDATA

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def database_gone(logged_in, monkeypatch, tmp_path):
    """Every new connection fails as a stopped server's would: the driver's own OperationalError."""
    connection.close()
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", str(tmp_path / "no-such-dir" / "db.sqlite3"))
    else:  # a server that is not there: a port nothing listens on
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(closed_port))
    yield
    connection.close()
    monkeypatch.undo()


def test_a_status_poll_while_the_database_is_away_is_503_with_retry_after(logged_in, database_gone):
    response = logged_in.get(f"/tasks/{uuid.uuid4()}/", headers={"accept": "application/json"})
    assert response.status_code == 503
    assert response.json() == {"error": MESSAGE_DATABASE_UNAVAILABLE}
    assert response["Retry-After"] == "5"


def test_a_page_while_the_database_is_away_says_so_in_html(logged_in, database_gone):
    response = logged_in.get("/media/", headers={"accept": "text/html"})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert MESSAGE_DATABASE_UNAVAILABLE in response.content.decode()


def test_an_upload_while_the_database_is_away_is_503(logged_in, database_gone):
    with open(TESTDATA / "images" / "photos" / "Landscape_6.jpg", "rb") as f:
        response = logged_in.post("/media/upload/", {"image": f}, headers={"accept": "application/json"})
    assert response.status_code == 503 and response.json()["error"] == MESSAGE_DATABASE_UNAVAILABLE
