"""Files follow their rows: whatever deletes an image or a rendition (the service, the admin, a
user's account being deleted and cascading) deletes the files once the transaction commits."""

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
