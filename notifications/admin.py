from django.contrib import admin, messages

from config.core.audit import audited

from . import services
from .models import EmailState, Notification, Preference


class ReadFilter(admin.SimpleListFilter):
    title = "read state"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "recipient",
        "kind",
        "title",
        "read_at",
        "email_state",
        "email_attempts",
        "email_error",
    )
    list_filter = ("kind", ReadFilter, "email_state", "created_at")
    search_fields = ("title", "recipient__username", "recipient__email", "email_message_id")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient", "job")
    readonly_fields = (
        "email_state",
        "email_attempts",
        "email_claimed_at",
        "email_sent_at",
        "email_error",
        "email_message_id",
        "job",
        "created_at",
    )
    date_hierarchy = "created_at"
    actions = ["resend_failed"]

    @admin.action(description="Send the selected failed emails again")
    @audited
    def resend_failed(self, request, queryset):
        count = services.emails_resend(notifications=list(queryset.filter(email_state=EmailState.FAILED)))
        self.message_user(request, f"{count} email(s) queued again.", messages.SUCCESS)


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "email_enabled", "updated_at")
    list_filter = ("kind", "email_enabled")
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
