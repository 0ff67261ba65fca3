from django.contrib import admin

from backoffice.fleet.models import DutyContact, StaffCredential


@admin.register(DutyContact)
class DutyContactAdmin(admin.ModelAdmin):
    list_display = ("name", "town", "on_duty")
    list_filter = ("town", "on_duty")


@admin.register(StaffCredential)
class StaffCredentialAdmin(admin.ModelAdmin):
    """Badges are registered here; the PIN is set by the person (fleet/me/pin), never shown."""

    list_display = ("profile", "badge_uid", "revoked_at", "updated_at")
    fields = ("profile", "badge_uid", "revoked_at")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        from backoffice.fleet.actions import bump_staff_version

        super().save_model(request, obj, form, change)
        bump_staff_version()
