"""`make run`: web, workers and beat from the Procfile, plus a private Redis if none is configured.

The web server listens on 127.0.0.1 unless HOST says otherwise (the Procfile's own default,
0.0.0.0, is for Procfile hosts, where a router stands in front). Ctrl-C stops everything: honcho
stops its processes, then the private Redis is shut down.
"""

import ipaddress
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.core import devredis

PROCESSES = ["web", "worker_media", "worker_reports", "worker_fast", "beat"]


class Command(BaseCommand):
    help = "Run the whole system locally from the Procfile (Ctrl-C stops everything)."

    def add_arguments(self, parser):
        # No `choices=` here: argparse checks a nargs="*" positional's empty default against them
        # and refuses a bare `runstack` (what `make run` calls). Checked in handle() instead.
        parser.add_argument(
            "processes", nargs="*", help=f"only these, of {', '.join(PROCESSES)} (default: all)"
        )

    def handle(self, *args, processes=(), **options):
        unknown = sorted(set(processes) - set(PROCESSES))
        if unknown:
            raise CommandError(
                f"no such process in the Procfile: {', '.join(unknown)} (choose from {', '.join(PROCESSES)})"
            )
        env = dict(os.environ)
        env.setdefault("PORT", "8000")
        # Loopback only, unless asked: the demo login is printed, and DEBUG may be turned on.
        env["HOST"] = env.get("HOST") or "127.0.0.1"
        if settings.DEBUG and not is_loopback(env["HOST"]):
            self.stderr.write(
                self.style.WARNING(
                    f"HOST={env['HOST']} with DEBUG on: anyone who reaches this address sees "
                    "tracebacks and settings. Set DJANGO_DEBUG=false unless this network is yours."
                )
            )
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        env["PYTHONUNBUFFERED"] = "1"
        # The Procfile names bare `gunicorn` and `celery`: find the ones in this virtualenv first.
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        redis_proc = None
        if not os.environ.get("CELERY_BROKER_URL"):
            redis_proc, url = devredis.start_private_redis(data_dir=settings.VAR_DIR / "redis")
            env["CELERY_BROKER_URL"] = url
            env.setdefault("REDIS_URL", url)
            self.stdout.write(f"Started a private Redis at {url} (data in var/redis/).")
        address = site_url(env["HOST"], env["PORT"])
        # Links in emails (built on the workers, which have no request) point where the web listens.
        if not env.get("SITE_URL"):
            env["SITE_URL"] = address
        if not env.get("DJANGO_ALLOWED_HOSTS"):
            shown = address.removeprefix("http://").rsplit(":", 1)[0].strip("[]")
            env["DJANGO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys(["127.0.0.1", "localhost", shown]))
        self.stdout.write(
            f"Backroom is starting on {address}/ (listening on {env['HOST']}) — Ctrl-C stops it."
        )
        if env["SITE_URL"].rstrip("/") != address:
            self.stdout.write(f"Links in emails use SITE_URL={env['SITE_URL']}.")
        honcho = [
            sys.executable,
            "-m",
            "honcho",
            "-f",
            str(settings.BASE_DIR / "Procfile"),
            "start",
            *(processes or PROCESSES),
        ]
        proc = subprocess.Popen(honcho, env=env, cwd=settings.BASE_DIR)
        try:
            proc.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to honcho too; give it time to stop its children.
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
            if redis_proc is not None:
                devredis.stop(redis_proc)
                self.stdout.write("Stopped the private Redis.")


def site_url(host: str, port: str) -> str:
    """The address a person on this machine opens: a wildcard listen address means loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"  # an IPv6 literal in a URL
    return f"http://{shown}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
