"""The archives themselves: their files go with the account (not into the next archive)."""

from .models import Archive
from .registry import registry


@registry.files("mydata.archives")
def archive_files(user_id: int):
    storage = Archive._meta.get_field("file").storage
    return [
        (storage, name) for name in Archive.objects.filter(owner_id=user_id).values_list("file", flat=True)
    ]
