from django.contrib import admin

from .models import EmailAddress, Profile


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
