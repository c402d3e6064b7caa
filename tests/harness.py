"""Real components for tests: a Celery worker subprocess, an SMTP server, job waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
ALL_QUEUES = "media,reports,notifications,default"


def test_database_url() -> str:
    """The URL of the test database pytest-django created, for processes outside this one."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=test_database_url(),
        BACKROOM_TEST_RUN=settings.BACKROOM_TEST_RUN,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        REDIS_URL=settings.REDIS_URL,
        EMAIL_HOST=settings.EMAIL_HOST,
        EMAIL_PORT=str(settings.EMAIL_PORT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class WorkerProcess:
    """`celery -A config worker` in a subprocess of its own, killed by its own pid."""

    def __init__(
        self,
        *,
        queues: str = ALL_QUEUES,
        concurrency: int = 2,
        name: str | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        preexec_fn=None,
    ) -> None:
        self.preexec_fn = preexec_fn  # run in the child after it started its session (priority)
        self.name = name or f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
        self.log_path = log_path or (settings.VAR_DIR / f"worker-{self.name.split('@')[0]}.log")
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-n",
            self.name,
            "-P",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "-E",
            "--loglevel",
            "INFO",
            *(extra_args or []),
        ]
        self.env = child_env(**(env or {}))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=self.preexec_fn,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Ready when the worker logs "<name> ready." (a ping would go through our own broker,
        which may not be the worker's)."""
        marker = f"{self.name} ready.".encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early ({self.proc.returncode}); see {self.log_path}")
            if marker in self.log_path.read_bytes()[self._log_start :]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s; see {self.log_path}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def child_pids(self) -> list[int]:
        import psutil

        return [c.pid for c in psutil.Process(self.pid).children(recursive=True)]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, as an OOM killer would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._log.close()


def wait_for_job(task_id: str, timeout: float = 60, states=("SUCCESS", "FAILURE")):
    """Poll the job row until it reaches one of ``states``; return it."""
    from config.core.models import Job

    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = Job.objects.filter(task_id=task_id).first()
        if job is not None and job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {task_id} did not reach {states} in {timeout}s: {job and job.state}")


class SMTPRecorder:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 whose replies a test can script.

    ``script`` holds replies for the next DATA commands, e.g. ["421 Try later", "421 Try later"];
    "silent" makes the server hang (a timeout); RCPT addresses in ``refuse`` get 550.
    "delay 2" answers after 2 s and accepts (an email in flight). ``rcpts`` logs every RCPT address.
    """

    def __init__(self) -> None:
        self.messages: list = []
        self.script: list[str] = []
        self.refuse: set[str] = set()
        self.attempts = 0
        self.rcpts: list[str] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.script.clear()
            self.refuse.clear()
            self.attempts = 0
            self.rcpts.clear()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            self.rcpts.append(address)
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.attempts += 1
            reply = self.script.pop(0) if self.script else None
        if reply == "silent":
            await asyncio.sleep(30)
            return "451 Too slow"
        if reply and reply.startswith("delay "):
            await asyncio.sleep(float(reply.split()[1]))
            reply = None
        if reply:
            return reply
        from email import message_from_bytes, policy

        with self._lock:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "message": message_from_bytes(envelope.content, policy=policy.default),
                    "raw": envelope.content,
                }
            )
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 30) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        raise AssertionError(f"expected {count} email(s), got {len(self.messages)}")


# --- Reliability suite (tests/reliability) ------------------------------------------------------


class publishing_to:  # a context manager, named like one
    """Make this process publish to another broker URL for the duration of a ``with`` block.

    Changing ``app.conf.broker_url`` does nothing while CELERY_BROKER_URL is in the environment
    (Celery reads the variable first), so this sets ``broker_write_url`` and swaps the connection
    and producer pools, restoring the session's pools afterwards. Only publishing moves; control
    commands (``app.control``) and result reads are unaffected.
    """

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self):
        from kombu.pools import ProducerPool

        from config.celery_app import app

        self._saved = (app.conf.get("broker_write_url"), app._pool, app.amqp._producer_pool)
        app.conf.broker_write_url = self.url
        # Pools of our own rather than kombu's registry (keyed by URL, shared, never emptied), so
        # closing them afterwards cannot affect anything else.
        app._pool = app.connection_for_write().Pool(limit=app.conf.broker_pool_limit)
        app.amqp._producer_pool = ProducerPool(app._pool, limit=app.conf.broker_pool_limit)
        return self

    def __exit__(self, *exc_info):
        from config.celery_app import app

        pool, producers = app._pool, app.amqp._producer_pool
        write_url, app._pool, app.amqp._producer_pool = self._saved
        app.conf.broker_write_url = write_url
        for p in (producers, pool):
            try:
                p.force_close_all()
            except Exception:  # the private broker may be gone already
                pass
        return False


# --- Object storage (issue 20) --------------------------------------------------------------------

S3_KEYS = {"AWS_ACCESS_KEY_ID": "backroom-test", "AWS_SECRET_ACCESS_KEY": "backroom-test-secret"}


class MotoS3Server:
    """moto's server mode (`moto_server`): a real S3 HTTP API in a subprocess of its own, on its own
    address and port, with one private bucket made through the S3 API itself."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, bucket: str = "backroom") -> None:
        from config.core.devredis import free_port

        self.host, self.port, self.bucket = host, port or free_port(), bucket
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """What a Backroom process needs to store its files in this bucket."""
        return {
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_S3_ADDRESSING_STYLE": "path",
            # Never the instance metadata service: the keys are in the environment.
            "AWS_EC2_METADATA_DISABLED": "true",
            **S3_KEYS,
        }

    def start(self, *, argv_prefix: list[str] | None = None, timeout: float = 30) -> MotoS3Server:
        import socket

        moto = str(Path(sys.executable).parent / "moto_server")
        self.proc = subprocess.Popen(
            [*(argv_prefix or []), moto, "-H", self.host, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited ({self.proc.returncode})")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"moto_server not listening after {timeout}s")
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10),
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object under ``prefix``, listed through the S3 API."""
        found: list[str] = []
        for page in (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        ):
            found += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(found)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
