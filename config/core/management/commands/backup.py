from pathlib import Path

from django.core.management.base import BaseCommand

from config.core import backup


class Command(BaseCommand):
    help = "Backup the database and every stored file (config/core/backup.py): manage.py backup FOLDER"

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder: Path, **options):
        done = backup.backup(folder)
        self.stdout.write(f"backup: database and {done['files']} file(s), {folder}")
