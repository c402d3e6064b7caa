import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_FILE = "demo-password"  # noqa: S105 - a file name


def password_file() -> Path:
    return Path(settings.VAR_DIR) / PASSWORD_FILE


def demo_password() -> tuple[str, bool]:
    """This install's demo password and whether it was made just now.

    Made at random on first use and kept in var/demo-password (readable by its owner only), so
    every install has its own and a reset database gets the same one back.
    """
    path = password_file()
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        password = ""
    if password:
        path.chmod(0o600)
        return password, False
    password = secrets.token_urlsafe(15)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # an empty file left by a failed first start
    # O_EXCL: two first starts at once cannot write two passwords.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password, True


class Command(BaseCommand):
    help = "Create a demo superuser if no superuser exists yet, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")

    def handle(self, *args, username: str, **options):
        users = get_user_model().objects
        path = password_file()
        if users.filter(is_superuser=True).exists():
            where = f" (the demo user's password is in {path})" if path.exists() else ""
            self.stdout.write(f"A superuser exists already; log in with it{where}.")
            return
        password, _ = demo_password()
        users.create_superuser(username=username, email=f"{username}@backroom.local", password=password)
        host = os.environ.get("HOST", "")
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - a URL to show
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo superuser created. Log in at http://{host}:{os.environ.get('PORT', '8000')}/ as "
                f"'{username}' with password '{password}' (kept in {path}, readable by you only)."
            )
        )
