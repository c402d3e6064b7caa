"""Files follow their rows: whatever removes an image or a rendition for good (the purge of deleted
images, a re-run replacing its renditions, the admin, a user's account being deleted and cascading)
deletes its files once the transaction commits, unless another row still uses them.

An owner's delete is soft (services.image_delete) and reaches here only when the cleanup purges it.
"""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Image, Rendition
from .services import files_delete_on_commit


@receiver(post_delete, sender=Image, dispatch_uid="media_app.image_files")
def image_files(sender, instance: Image, **kwargs) -> None:
    files_delete_on_commit([instance.original.name])


@receiver(post_delete, sender=Rendition, dispatch_uid="media_app.rendition_files")
def rendition_files(sender, instance: Rendition, **kwargs) -> None:
    files_delete_on_commit([instance.file.name])
