"""Backup and restore of the database and the stored files (manage.py backup / restore).

A backup is a folder: ``db.sqlite3`` (SQLite's online backup API: a consistent copy while the
site runs) or ``db.dump`` (``pg_dump -Fc``), and ``files.tar`` with every file of the default
storage, read through the storage API (local disk or S3 alike).

A restore puts the database back whole and writes every file of the backup back under its own
name. Files stored since the backup are left alone: the orphan sweeps remove them once their
grace period (ORPHAN_GRACE_HOURS, judged by the file's age) has passed and no row uses them, and a
restored file is new by that measure, so a sweep right after a restore never deletes a file a
restored row needs.
"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection


def _listing(storage, folder: str = "") -> list[str]:
    dirs, files = storage.listdir(folder)
    found = [f"{folder}{name}" for name in files]
    for d in dirs:
        found += _listing(storage, f"{folder}{d}/")
    return found


def _pg_env() -> tuple[list[str], dict[str, str]]:
    s = connection.settings_dict
    args = [
        "-h",
        s.get("HOST") or "127.0.0.1",
        "-p",
        str(s.get("PORT") or 5432),
        "-U",
        s.get("USER") or "postgres",
    ]
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    return args, env


def backup(folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(folder / "db.sqlite3")
        with target:
            connection.connection.backup(target)
        target.close()
    else:
        args, env = _pg_env()
        name = connection.settings_dict["NAME"]
        subprocess.run(["pg_dump", "-Fc", *args, "-f", str(folder / "db.dump"), name], check=True, env=env)
    names = _listing(default_storage)
    with tarfile.open(folder / "files.tar", "w") as tar:
        for name in names:
            with default_storage.open(name, "rb") as fh:
                data = fh.read()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"files": len(names)}


def restore(folder: Path) -> dict[str, int]:
    if connection.vendor == "sqlite":
        source = sqlite3.connect(folder / "db.sqlite3")
        connection.ensure_connection()
        with source:
            source.backup(connection.connection)
        source.close()
    else:
        args, env = _pg_env()
        name = connection.settings_dict["NAME"]
        connection.close()
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                *args,
                "-d",
                name,
                str(folder / "db.dump"),
            ],
            check=True,
            env=env,
        )
    restored = 0
    with tarfile.open(folder / "files.tar") as tar:
        for member in tar:
            if not member.isfile():
                continue
            with tempfile.TemporaryFile() as tmp:
                tmp.write(tar.extractfile(member).read())
                tmp.seek(0)
                default_storage.delete(member.name)  # save() would pick another name
                default_storage.save(member.name, File(tmp))
            restored += 1
    return {"files": restored}
