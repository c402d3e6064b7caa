from config.ops.registry import Swept, registry

from . import services


@registry.sweep("mydata.expired_archives")
def expired_archives(*, batch_size: int = 1000) -> Swept:
    done = services.archives_delete_expired(batch_size=batch_size)
    return Swept(
        rows=done["rows"], files=done["files"], bytes=done["bytes"], counts={"archives_deleted": done["rows"]}
    )
