"""Upgrades while running (issue 23, item 4): the previous release's workers keep running while this
release migrates, and every job the old release queued completes under the new one.

The previous release is a git worktree of ``BACKROOM_UPGRADE_FROM`` (default: the newest tag
before HEAD, else ``HEAD~1``) under /tmp, run with this checkout's interpreter (same
requirements). Both releases share a database of their own (a fresh SQLite file, or a fresh
PostgreSQL database beside the suite's), a Redis database of their own and one BACKROOM_VAR_DIR, as
two releases share them in production. Then, as on a Procfile host:

1. the old release migrates, starts its workers (media and reports; the other queues), and queues
   jobs that they run (a picture's compression, an export, echo jobs);
2. its media and reports worker stops, and the old release queues a picture and exports, which wait;
3. ``release`` of this checkout migrates (its system checks run first) while the old worker runs,
   and the old release queues more jobs against the new schema: its other worker runs the echo ones;
4. this release's worker starts and the old one stops (warm shutdown);
5. every job is SUCCESS, and those that waited ran on the new worker.

The old code is driven through ``manage.py shell`` with the services it had (``export_request``,
``job_create``): a release that changes those signatures changes the scripts below.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from config.core import upgrades
from tests import harness
from tests.harness import ROOT, WorkerProcess, child_env
from tests.procfile import procfile_command

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 100  # the whole scenario; each step waits within what is left


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def previous_release() -> str:
    if rev := os.environ.get("BACKROOM_UPGRADE_FROM"):
        return rev
    try:  # the newest tag before this commit (a tag on HEAD itself is this release)
        return git("describe", "--tags", "--abbrev=0", "HEAD~1").strip()
    except subprocess.CalledProcessError:
        return "HEAD~1"


class Release:
    """One release's code: manage.py commands and workers run from its tree with shared env."""

    def __init__(self, tree: Path, env: dict[str, str], name: str) -> None:
        self.tree, self.env, self.name = tree, env, name
        self.pictures = 0  # each picture differs: the same bytes again would reuse the first's job

    def manage(self, *args: str, timeout: float = 60) -> str:
        return self.run([sys.executable, "manage.py", *args], timeout=timeout)

    def run(self, argv: list[str], timeout: float = 60) -> str:
        done = subprocess.run(
            argv,
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{self.name}: {' '.join(argv)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def queue(self, *, exports: int = 0, echoes: int = 0, pictures: int = 0) -> list[str]:
        """Jobs queued by this release's own services, as its web would; their task ids, in the
        order pictures, exports, echoes."""
        script = f"""
import io, json
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.datastructures import MultiValueDict
from PIL import Image
from config.core.services import job_create
from media_app.forms import UploadForm
from media_app.services import image_upload
from reports.services import export_request
user, _ = get_user_model().objects.get_or_create(username="upgrader", defaults={{"email": "u@example.com"}})
ids = []
for i in range({pictures}):
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), ({self.pictures} * 40 + i, 120, 200)).save(buf, "JPEG")
    f = SimpleUploadedFile(f"p{{i}}.jpg", buf.getvalue(), content_type="image/jpeg")
    form = UploadForm({{}}, MultiValueDict({{"image": [f]}}))
    assert form.is_valid(), form.errors
    ids += [image.job.task_id for image in image_upload(owner=user, uploads=form.uploads())]
ids += [export_request(user=user, kind="job_history").job.task_id for _ in range({exports})]
for i in range({echoes}):
    with transaction.atomic():
        ids.append(job_create(owner=user, kind="echo", task_name="tests.echo", args=[i]).task_id)
print("IDS=" + json.dumps(ids))
"""
        self.pictures += pictures
        out = self.manage("shell", "-c", script)
        return json.loads(out.split("IDS=", 1)[1])

    def worker(self, queues: str = "media,reports,notifications,default") -> TreeWorker:
        name = f"{self.name}-{uuid.uuid4().hex[:6]}"
        return TreeWorker(
            self.tree,
            queues=queues,
            concurrency=1,
            env=self.env,
            name=f"{name}@localhost",
            log_path=Path(self.env["BACKROOM_VAR_DIR"]) / f"worker-{name}.log",
        )


class TreeWorker(WorkerProcess):
    """A worker whose code is the given tree's (the harness's workers run this checkout)."""

    def __init__(self, tree: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tree = tree
        self.env = kwargs["env"]

    def start(self, timeout: float = 60) -> TreeWorker:
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.tree,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self


class SharedDatabase:
    """A database of the upgrade's own, of the suite's kind, empty at first."""

    def __init__(self, folder: Path) -> None:
        self.vendor = connection.vendor
        if self.vendor == "sqlite":
            self.path = folder / "upgrade.sqlite3"
            self.url = f"sqlite:///{self.path}"
        else:
            self.name = f"{connection.settings_dict['NAME']}_upgrade"
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                cursor.execute(f'CREATE DATABASE "{self.name}"')
            base = harness.test_database_url().rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"

    def rows(self, sql: str, params: list) -> list[tuple]:
        if self.vendor == "sqlite":
            with sqlite3.connect(self.path, timeout=30) as db:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.url.replace("postgres://", "postgresql://"), autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def drop(self) -> None:
        if self.vendor != "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def states(db: SharedDatabase, ids: list[str]) -> dict[str, str]:
    every = dict(db.rows("SELECT task_id, state FROM core_job", []))  # this database is the test's
    return {i: every[i] for i in ids if i in every}


def ran_on(db: SharedDatabase, ids: list[str]) -> dict[str, str]:
    every = dict(db.rows("SELECT task_id, worker FROM django_celery_results_taskresult", []))
    return {i: every[i] for i in ids if i in every}


def wait_final(db: SharedDatabase, ids: list[str], deadline: float) -> dict[str, str]:
    now: dict[str, str] = {}
    while time.monotonic() < deadline:
        now = states(db, ids)
        if len(now) == len(ids) and all(s in ("SUCCESS", "FAILURE", "CANCELLED") for s in now.values()):
            return now
        time.sleep(0.25)
    raise AssertionError(f"jobs not final in time: {now}")


@pytest.fixture
def old_tree():
    rev = previous_release()
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True
    )
    if found.returncode != 0:
        # A shallow clone holds no earlier commit: there is no previous release to upgrade from.
        pytest.skip(
            f"the previous release {rev!r} is not in this clone (shallow?); set BACKROOM_UPGRADE_FROM"
        )
    folder = Path(tempfile.mkdtemp(prefix="backroom-upgrade-from-"))
    tree = folder / "tree"
    git("worktree", "add", "--detach", str(tree), rev)
    try:
        yield tree
    finally:
        git("worktree", "remove", "--force", str(tree))
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_jobs_queued_by_the_previous_release_complete_under_this_one(old_tree, tmp_path):
    deadline = time.monotonic() + TIMEOUT
    db = SharedDatabase(tmp_path)
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(broker).flushdb()  # nothing left from an earlier run
    (tmp_path / "var").mkdir()
    env = child_env(
        DATABASE_URL=db.url,
        CELERY_BROKER_URL=broker,
        REDIS_URL=broker,
        BACKROOM_VAR_DIR=str(tmp_path / "var"),
        BACKROOM_TEST_RUN=f"upgrade-{os.getpid()}",
        REPORTS_MAX_ACTIVE_PER_USER="100",
    )
    old, new = Release(old_tree, env, "old"), Release(ROOT, env, "new")
    workers: list[WorkerProcess] = []
    try:
        old.manage("migrate", "--noinput")
        old_fast = old.worker("notifications,default").start()
        workers.append(old_fast)
        old_slow = old.worker("media,reports").start()
        workers.append(old_slow)

        ran_old = old.queue(pictures=1, exports=1, echoes=2)
        assert set(wait_final(db, ran_old, deadline).values()) == {"SUCCESS"}

        old_slow.stop()  # one process type of the old release gone first: its messages wait
        waiting = old.queue(pictures=1, exports=2)

        # The release step of this checkout, while the old worker runs and exports wait for it.
        migrated = new.run(procfile_command("release"))
        during = old.queue(exports=1, echoes=2)  # the old code writing into the new schema
        echoes_during = during[1:]
        assert set(wait_final(db, echoes_during, deadline).values()) == {"SUCCESS"}
        assert set(states(db, waiting + during[:1]).values()) == {"QUEUED"}

        new_worker = new.worker().start()
        workers.append(new_worker)
        old_fast.stop()

        everything = ran_old + waiting + during
        final = wait_final(db, everything, deadline)
        assert final == dict.fromkeys(everything, "SUCCESS"), final
        assert [state for (state,) in db.rows("SELECT state FROM media_app_image", [])] == ["READY"] * 2
        workers_of = ran_on(db, everything)
        assert {workers_of[i] for i in ran_old[:2]} == {old_slow.name}
        assert {workers_of[i] for i in ran_old[2:] + echoes_during} == {old_fast.name}
        assert {workers_of[i] for i in waiting + during[:1]} == {new_worker.name}
        print(f"\nupgrade from {previous_release()}: {migrated.count('Applying ')} migration(s) applied")
    finally:
        for worker in workers:
            worker.stop()
        db.drop()


# --- the check that refuses migrations old code would not survive ---------------------------------


def test_every_migration_of_ours_leaves_a_schema_the_previous_release_can_use():
    assert list(upgrades.refused_migrations()) == []


def test_the_allow_list_names_only_migrations_that_exist_and_would_be_refused():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert upgrades.BEFORE_THE_RULE <= set(loader.disk_migrations)
    try:
        kept, upgrades.BEFORE_THE_RULE = upgrades.BEFORE_THE_RULE, frozenset()
        refused = {key for key, _ in upgrades.refused_migrations()}
    finally:
        upgrades.BEFORE_THE_RULE = kept
    assert refused == kept


def test_only_this_checkouts_apps_are_judged_even_with_the_virtualenv_inside_it(settings):
    ours = upgrades._ours()
    assert {"core", "accounts", "mydata", "ops", "media_app", "reports", "notifications"} <= ours
    assert not ours & {
        "admin",
        "auth",
        "contenttypes",
        "sessions",
        "django_celery_beat",
        "django_celery_results",
    }
    settings.BASE_DIR = Path("/")  # everything is inside it now, site-packages too
    assert upgrades._ours() == ours


def _with(operations, *, contract: bool = False):
    """The migration graph of this checkout plus one media_app migration with ``operations``."""
    from django.db import migrations
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    parent = max(n for n in loader.graph.leaf_nodes() if n[0] == "media_app")
    migration = type(
        "Migration",
        (migrations.Migration,),
        {"operations": operations, "dependencies": [parent], **({"contract": True} if contract else {})},
    )("9999_under_test", "media_app")
    loader.graph.add_node(("media_app", "9999_under_test"), migration)
    loader.graph.add_dependency(migration, ("media_app", "9999_under_test"), parent)
    return loader


@pytest.mark.parametrize(
    "operation, reason",
    [
        ("RemoveField('image', 'title')", "Remove field title from image"),
        ("RenameField('image', 'title', 'caption')", "Rename field title on image to caption"),
        ("DeleteModel('Rendition')", "Delete model Rendition"),
        ("RenameModel('Rendition', 'Variant')", "Rename model Rendition to Variant"),
        (
            "AddField('image', 'licence', models.CharField(max_length=20, default='cc'))",
            "NOT NULL without db_default",
        ),
        ("AlterField('image', 'deleted_at', models.DateTimeField())", "NOT NULL without db_default"),
        (
            "AlterField('image', 'title', models.CharField(max_length=200, blank=True, db_column='t'))",
            "renames the column",
        ),
    ],
)
def test_a_migration_that_breaks_the_running_release_is_refused_unless_marked_contract(operation, reason):
    from django.db import migrations, models

    op = eval(f"migrations.{operation}", {"migrations": migrations, "models": models})  # noqa: S307
    refused = list(upgrades.refused_migrations(_with([op])))
    assert [key for key, _ in refused] == [("media_app", "9999_under_test")]
    assert reason in refused[0][1]
    assert list(upgrades.refused_migrations(_with([op], contract=True))) == []


def test_manage_py_check_and_so_migrate_refuse_it(monkeypatch):
    """`migrate` runs the system checks before it applies anything: the release step stops here."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import migrations

    loader = _with([migrations.RemoveField("image", "title")])
    monkeypatch.setattr(upgrades, "MigrationLoader", lambda *a, **k: loader)
    with pytest.raises(SystemCheckError, match=r"core.E010.*media_app.9999_under_test"):
        call_command("check")
    with pytest.raises(SystemCheckError, match=r"core.E010.*media_app.9999_under_test"):
        call_command("migrate", "--noinput", skip_checks=False)
    call_command("check", "reports")  # another app's check does not judge media_app's migrations


@pytest.mark.parametrize(
    "operation",
    [
        "AddField('image', 'licence', models.CharField(max_length=20, null=True))",
        "AddField('image', 'licence', models.CharField(max_length=20, db_default='cc'))",
        "AlterField('image', 'deleted_at', models.DateTimeField(null=True, blank=True, db_index=True))",
        "CreateModel('Album', [('id', models.BigAutoField(primary_key=True))])",
    ],
)
def test_expand_only_migrations_pass(operation):
    from django.db import migrations, models

    op = eval(f"migrations.{operation}", {"migrations": migrations, "models": models})  # noqa: S307
    assert list(upgrades.refused_migrations(_with([op]))) == []
