from django.contrib import admin

from .models import Allowance, EmailAddress, Profile


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    list_display = ("email", "user", "verified_at", "created_at")
    list_filter = (("verified_at", admin.EmptyFieldListFilter),)
    search_fields = ("email", "user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "time_zone", "updated_at")
    search_fields = ("user__username", "time_zone")
    raw_id_fields = ("user",)


@admin.register(Allowance)
class AllowanceAdmin(admin.ModelAdmin):
    """Per-person overrides of the quota and the upload rate. The counter is the uploads' own:
    shown, never typed in (an edit racing an upload would lose one of them)."""

    list_display = ("user", "bytes_used", "quota_bytes", "uploads_per_minute")
    list_filter = (("quota_bytes", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("bytes_used",)
    fields = ("user", "bytes_used", "quota_bytes", "uploads_per_minute")

    def save_model(self, request, obj, form, change):
        # Only the overrides: a save of the whole row would put back a stale bytes_used.
        if change:
            Allowance.objects.filter(pk=obj.pk).update(
                quota_bytes=obj.quota_bytes, uploads_per_minute=obj.uploads_per_minute
            )
        else:
            super().save_model(request, obj, form, change)
