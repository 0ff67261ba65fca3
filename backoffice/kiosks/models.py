"""The kiosks of a town: who they are, how they prove it, and who was refused.

The back office never holds a kiosk's secret or an enrol code, only their SHA-256: a copy of the
database lets nobody pose as a kiosk.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kiosk(models.Model):
    kiosk_id = models.CharField(max_length=63, unique=True)
    name = models.CharField(max_length=80)
    town = models.ForeignKey("accounts.Town", on_delete=models.PROTECT, related_name="kiosks")
    village = models.CharField(max_length=60, help_text=_("The village or centre where the kiosk stands."))
    enrol_code_hash = models.CharField(max_length=64, blank=True, db_index=True)
    enrol_code_expires = models.DateTimeField(null=True, blank=True)
    credential_hash = models.CharField(max_length=64, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    software_version = models.CharField(max_length=40, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    clock_skew_s = models.FloatField(default=0.0, help_text=_("Back-office time minus kiosk time, last seen."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["village", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.village})"

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "enrolled" if self.credential_hash else "awaiting enrolment"


class AuthRefusal(models.Model):
    """A request refused for its credential: who claimed to be whom, from where, and why."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_id = models.CharField(max_length=63, blank=True)  # as claimed; may name no kiosk
    kiosk = models.ForeignKey(Kiosk, null=True, blank=True, on_delete=models.SET_NULL, related_name="refusals")
    code = models.CharField(max_length=60)
    remote_addr = models.CharField(max_length=60, blank=True)
    path = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]
