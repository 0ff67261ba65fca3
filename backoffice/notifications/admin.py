"""Admins edit message texts here; the outbox is read-only (its number and text stay sealed)."""

from django.contrib import admin

from backoffice.notifications.models import SmsMessage, SmsTemplate


@admin.register(SmsTemplate)
class SmsTemplateAdmin(admin.ModelAdmin):
    list_display = ("kind", "text", "updated_at")


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ("case", "kind", "to_masked", "created_at", "attempts", "sent_at", "last_error")
    list_filter = ("kind", "sent_at")
    fields = ("case", "kind", "to_masked", "created_at", "attempts", "next_try_at", "sent_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
