from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

# The upgrade's own count (media_app 0006), so the two can never disagree.
backfill = import_module("media_app.migrations.0006_usage_backfill")


class Command(BaseCommand):
    help = (
        "Count each person's storage usage again from the originals they keep, as the upgrade to "
        "quotas did (media_app 0006). Safe while the site runs."
    )

    def handle(self, *args, **options):
        people = backfill.count_usage_with(apps, DEFAULT_DB_ALIAS)
        self.stdout.write(f"usage_recount: {people} person(s) counted")
