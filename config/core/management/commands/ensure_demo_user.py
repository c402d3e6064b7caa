import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a demo superuser if no superuser exists yet, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-pass-123")

    def handle(self, *args, username: str, password: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; log in with it.")
            return
        users.create_superuser(username=username, email=f"{username}@backroom.local", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo superuser created. Log in at http://127.0.0.1:{os.environ.get('PORT', '8000')}/ as "
                f"'{username}' with password '{password}'."
            )
        )
