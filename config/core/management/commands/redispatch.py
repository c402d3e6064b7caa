from django.core.management.base import BaseCommand

from config.core.services import job_redispatch


class Command(BaseCommand):
    help = "Send jobs that were written but never reached the broker (it was down)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None, help="seconds since written")

    def handle(self, *args, older_than, **options):
        self.stdout.write(f"re-dispatched {job_redispatch(older_than_seconds=older_than)} job(s)")
