"""Accounts in Django's admin, for the administrator role (towns, users, roles, kiosk staff)."""

from django.contrib import admin

from backoffice.accounts.models import Profile, Town


@admin.register(Town)
class TownAdmin(admin.ModelAdmin):
    list_display = ("code", "name")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "town", "role")
    list_filter = ("town", "role")
    filter_horizontal = ("kiosks",)
