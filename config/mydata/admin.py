from django.contrib import admin

from .models import Archive


@admin.register(Archive)
class ArchiveAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "state", "bytes", "entries", "created_at", "expires_at")
    list_filter = ("state",)
    raw_id_fields = ("owner", "job")
    readonly_fields = [f.name for f in Archive._meta.fields]

    def has_add_permission(self, request):
        return False
