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
from django.core.management.base import BaseCommand

from config.core import devredis

PROCESSES = ["web", "worker_media", "worker_reports", "worker_fast", "beat"]


class Command(BaseCommand):
    help = "Run the whole system locally from the Procfile (Ctrl-C stops everything)."

    def add_arguments(self, parser):
        parser.add_argument(
            "processes", nargs="*", choices=PROCESSES, help="only these (default: all of them)"
        )

    def handle(self, *args, processes=(), **options):
        env = dict(os.environ)
        env.setdefault("PORT", "8000")
        # Loopback only, unless asked: DEBUG is on under make run and the demo login is printed.
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
        shown = "127.0.0.1" if env["HOST"] in ("0.0.0.0", "::") else env["HOST"]  # noqa: S104
        self.stdout.write(
            f"Backroom is starting on http://{shown}:{env['PORT']}/ (listening on {env['HOST']}) "
            "— Ctrl-C stops it."
        )
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
