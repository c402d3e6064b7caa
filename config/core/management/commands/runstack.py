"""`make run`: web, workers and beat from the Procfile, plus a private Redis if none is configured.

Ctrl-C stops everything: honcho stops its processes, then the private Redis is shut down.
"""

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

    def handle(self, *args, **options):
        env = dict(os.environ)
        env.setdefault("PORT", "8000")
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
        self.stdout.write(f"Backroom is starting on http://127.0.0.1:{env['PORT']}/ — Ctrl-C stops it.")
        honcho = [
            sys.executable,
            "-m",
            "honcho",
            "-f",
            str(settings.BASE_DIR / "Procfile"),
            "start",
            *PROCESSES,
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
