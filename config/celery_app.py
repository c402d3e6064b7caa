"""The one Celery app. Workers: `celery -A config worker -Q media`."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

from config.core import tasklog

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config", task_cls="config.core.jobtask:JobTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Expected failures (a bad picture) log one WARNING line; only unexpected ones a traceback.
tasklog.install()


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs) -> None:
    """A pool process starts with everything the worker imported; keep the collector off it.

    Full garbage collections walk every long-lived object (about 100k once Django and the apps are
    loaded, 20-30 ms per walk here); frozen, they are never walked again (see config/wsgi.py).
    """
    gc.collect()
    gc.freeze()
