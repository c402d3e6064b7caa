"""What the reports app holds about a person (mydata.registry): the exports still kept."""

from __future__ import annotations

from config.mydata.registry import Holding, registry
from config.mydata.services import json_holding

from .models import Export


@registry.holdings("reports.exports")
def exports(user) -> list[Holding]:
    rows = Export._base_manager.filter(owner_id=user.pk).order_by("pk")
    storage = Export._meta.get_field("file").storage
    listing = [
        {
            "id": e.pk,
            "kind": e.kind,
            "state": e.state,
            "date_from": e.date_from,
            "date_to": e.date_to,
            "rows": e.rows,
            "created_at": e.created_at,
            "expires_at": e.expires_at,
        }
        for e in rows
    ]
    files = [
        Holding(path=f"exports/{e.pk}-{e.download_filename}", storage=storage, name=e.file.name)
        for e in rows
        if e.file.name
    ]
    return [json_holding("exports.json", listing), *files]


@registry.files("reports.exports")
def files(user_id: int) -> list[tuple]:
    storage = Export._meta.get_field("file").storage
    names = Export._base_manager.filter(owner_id=user_id).exclude(file="").values_list("file", flat=True)
    return [(storage, name) for name in names]
