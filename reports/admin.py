from django.contrib import admin

from .models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "state", "rows", "bytes", "downloads", "created_at", "expires_at")
    list_filter = ("state", "kind", "created_at")
    search_fields = ("owner__username", "error")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "job")
    readonly_fields = [
        "owner",
        "kind",
        "date_from",
        "date_to",
        "state",
        "rows",
        "bytes",
        "file",
        "storage_name",
        "downloads",
        "last_downloaded_at",
        "job",
        "error",
        "created_at",
        "finished_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # exports are asked for on the reports page; an added one would have no owner
