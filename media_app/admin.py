from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat

from . import services
from .models import Image, Rendition, UploadBatch


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    can_delete = False
    fields = ("name", "format", "width", "height", "bytes", "file")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "owner",
        "state",
        "original_format",
        "dimensions",
        "original_size",
        "saving",
        "processing_ms",
        "created_at",
    )
    list_filter = ("state", "original_format", "created_at", "deleted_at")
    search_fields = ("title", "owner__username", "error")
    list_select_related = ("owner",)
    readonly_fields = [f.name for f in Image._meta.fields]
    inlines = [RenditionInline]
    actions = ["recompress"]

    @admin.display(description="size")
    def dimensions(self, obj: Image) -> str:
        return f"{obj.original_width}×{obj.original_height}"

    @admin.display(description="bytes", ordering="original_bytes")
    def original_size(self, obj: Image) -> str:
        return filesizeformat(obj.original_bytes)

    @admin.display(description="saving")
    def saving(self, obj: Image) -> str:
        return "" if obj.saving_percent is None else f"{obj.saving_percent}%"

    @admin.action(description="Re-run compression for the selected images")
    def recompress(self, request, queryset):
        count = services.images_recompress(images=list(queryset.select_related("owner")))
        self.message_user(request, f"{count} image(s) queued for compression.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # images come in through the upload form


@admin.register(UploadBatch)
class UploadBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "created_at", "notified_at")
    list_filter = ("created_at",)
    readonly_fields = ("owner", "created_at", "notified_at")

    def has_add_permission(self, request) -> bool:
        return False  # a batch comes with an upload; an added one would have no owner (a 500)
