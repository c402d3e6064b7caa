from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("media_app", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", False)), fields=["deleted_at"], name="image_deleted_at"
            ),
        ),
    ]
