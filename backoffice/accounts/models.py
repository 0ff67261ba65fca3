"""Towns and who works in them. A user belongs to one town and sees only its cases; kiosk staff
see only the cases of the kiosks they serve."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Town(models.Model):
    code = models.SlugField(unique=True)
    name = models.CharField(max_length=60)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLERK = "clerk", _("Back-office clerk")
    KIOSK_STAFF = "kiosk_staff", _("Kiosk staff")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Administrator")
    PLATFORM = "platform", _("Approval platform (API)")


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    town = models.ForeignKey(Town, on_delete=models.PROTECT, related_name="people")
    role = models.CharField(max_length=20, choices=Role.choices)
    kiosks = models.ManyToManyField("kiosks.Kiosk", blank=True, related_name="staff",
                                    help_text=_("For kiosk staff: the kiosks they serve."))

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()}, {self.town})"


class ApiToken(models.Model):
    """A key for the export API (the approval platform 一窗通办). Only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
