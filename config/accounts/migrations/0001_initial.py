"""Email addresses, unique case-insensitively; existing accounts are given theirs.

Existing addresses are taken as verified (their owners have been receiving our emails; stopping all
mail at upgrade would hurt more than it protects). Where several accounts share an address, in any
letter case, the oldest account (earliest date_joined, then lowest id) keeps it; the others get no
address row, so they are unverified: no email, no password reset, until an admin sets them a new
address. Their ``User.email`` is left as it was, for the admin to see.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def addresses_from_accounts(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    EmailAddress = apps.get_model("accounts", "EmailAddress")
    now = timezone.now()
    taken: set[str] = set()
    batch = []
    for pk, email in User.objects.exclude(email="").order_by("date_joined", "pk").values_list("pk", "email"):
        key = email.strip().lower()
        if not key or key in taken:
            continue
        taken.add(key)
        batch.append(EmailAddress(user_id=pk, email=email.strip(), verified_at=now))
        if len(batch) >= 1000:
            EmailAddress.objects.bulk_create(batch)
            batch = []
    EmailAddress.objects.bulk_create(batch)


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="EmailAddress",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("email", models.EmailField(max_length=254)),
                ("verified_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="email_address",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "email address", "verbose_name_plural": "email addresses"},
        ),
        migrations.RunPython(addresses_from_accounts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="emailaddress",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"), name="accounts_email_unique_ci"
            ),
        ),
    ]
