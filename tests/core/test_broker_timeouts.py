"""Every broker client gives up on a silent peer within its socket timeouts, RabbitMQ as Redis.

A frozen broker, or one behind dropped packets, looks to a client like a peer that accepts the TCP
connection (the kernel does that for a stopped process) and then never says a word. A silent
listener on loopback is exactly that, for any protocol; these tests publish to one through the
project's own Celery app and settings.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.conf import settings
from kombu.exceptions import OperationalError

from tests.harness import publishing_to


class SilentPeer:
    """Accepts connections and never reads or writes: a frozen broker as its clients see it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_peer():
    peer = SilentPeer()
    yield peer
    peer.close()


def _publish_seconds(url: str) -> float:
    from config.celery_app import app

    started = time.monotonic()
    with pytest.raises(OperationalError), publishing_to(url):
        app.send_task("tests.echo")
    return time.monotonic() - started


@pytest.mark.timing
@pytest.mark.parametrize("scheme", ["amqp://guest:guest@127.0.0.1:{port}//", "redis://127.0.0.1:{port}/0"])
def test_a_publish_to_a_silent_broker_gives_up_within_2s(silent_peer, scheme):
    seconds = _publish_seconds(scheme.format(port=silent_peer.port))
    print(f"{scheme.split(':')[0]} publish to a silent peer: {seconds:.2f} s")
    assert silent_peer.accepted, "the client never connected: this tested nothing"
    # One socket timeout (1 s): a publish that timed out is not tried again.
    assert seconds < 2.0, f"{scheme.split(':')[0]} publish took {seconds:.2f} s"


def test_the_amqp_client_is_configured_with_socket_timeouts_and_a_heartbeat():
    """What kombu hands py-amqp for an amqp:// broker (no broker needed to read it)."""
    from config.celery_app import app

    with app.connection_for_write("amqp://guest:guest@127.0.0.1:5672//") as conn:
        assert conn.connect_timeout == settings.SOCKET_CONNECT_TIMEOUT
        assert conn.transport_options["read_timeout"] == settings.SOCKET_TIMEOUT
        assert conn.transport_options["write_timeout"] == settings.SOCKET_TIMEOUT
    # A worker notices a RabbitMQ that froze under it by missed heartbeats (publishers send none).
    assert 0 < app.conf.broker_heartbeat <= 30
    policy = app.conf.task_publish_retry_policy
    assert policy["errback"].__name__ == "give_up_on_timeout"
