"""Count the bytes of the originals each person already keeps, so an install upgraded from before
quotas (accounts 0003) starts from their real usage instead of zero.

Per person, in a transaction of its own: take their usage row's lock, then sum. Every upload
charges that row before it writes its image, and every delete frees it in the image's own
transaction, so once the lock is ours the sum sees exactly what the counter must hold, also while
the web keeps running (PostgreSQL reads each statement afresh; SQLite has one writer). Run again
(it is idempotent: ``manage.py usage_recount``), it finds the counters right and leaves them so.
"""

from django.db import migrations, transaction
from django.db.models import Sum


def count_usage_with(apps, db: str) -> int:
    """Set every person's usage to the bytes of the originals they keep; how many were looked at.
    ``apps`` is a migration's historical registry, or django.apps.apps (manage.py usage_recount)."""
    Allowance = apps.get_model("accounts", "Allowance")
    Image = apps.get_model("media_app", "Image")
    people = set(Image._base_manager.using(db).values_list("owner_id", flat=True).distinct())
    people |= set(Allowance.objects.using(db).values_list("user_id", flat=True))
    for user_id in sorted(people):
        with transaction.atomic(using=db):
            Allowance.objects.using(db).get_or_create(user_id=user_id)
            Allowance.objects.using(db).select_for_update().filter(user_id=user_id).first()
            kept = Image._base_manager.using(db).filter(owner_id=user_id, deleted_at__isnull=True)
            total = kept.aggregate(total=Sum("original_bytes"))["total"] or 0
            Allowance.objects.using(db).filter(user_id=user_id).update(bytes_used=total)
    return len(people)


def count_usage(apps, schema_editor):
    count_usage_with(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    # One short transaction per person rather than one for everybody: uploads wait at most for one.
    atomic = False

    dependencies = [
        ("accounts", "0003_allowance"),
        ("media_app", "0005_image_content_sha256"),
    ]

    operations = [migrations.RunPython(count_usage, migrations.RunPython.noop, elidable=True)]
