"""The fleet: what each kiosk last said, every audit head it ever reported, device outages,
alerts (one open alert per condition: the dedup is a database constraint), the staff on duty
who hear about them, and what the kiosks pull (staff accounts, guide versions, results to place).

Every change goes through ``actions.py``; views only read.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class KioskState(models.Model):
    """The latest heartbeat of a kiosk, flattened for a dashboard that reads one row per kiosk."""

    kiosk = models.OneToOneField("kiosks.Kiosk", on_delete=models.CASCADE, related_name="fleet")
    last_heartbeat_at = models.DateTimeField(null=True, db_index=True)  # back-office clock
    interval_s = models.FloatField(default=30.0)
    heartbeats = models.PositiveBigIntegerField(default=0)
    online = models.BooleanField(default=False)  # as the last check judged it (alerts follow this)
    offline_since = models.DateTimeField(null=True)
    software_version = models.CharField(max_length=40, blank=True)
    disk_free_bytes = models.BigIntegerField(default=0)
    disk_total_bytes = models.BigIntegerField(default=0)
    devices = models.JSONField(default=list)  # [{name, status, detail, since}] (since: corrected epoch)
    compartments = models.JSONField(default=dict)
    originals_waiting = models.PositiveIntegerField(default=0)
    oldest_original_at = models.DateTimeField(null=True)
    outbox_depth = models.PositiveIntegerField(default=0)
    oldest_undelivered_at = models.DateTimeField(null=True)
    outbox_last_error = models.TextField(blank=True)
    audit_seq = models.PositiveBigIntegerField(default=0)
    audit_hash = models.CharField(max_length=64, blank=True)
    audit_challenge = models.JSONField(default=list)  # seqs asked for in the last answer
    audit_unanswered = models.PositiveIntegerField(default=0)  # heartbeats in a row that sent no proof
    audit_flag = models.TextField(blank=True)  # why the chain no longer matches what it reported
    audit_flagged_at = models.DateTimeField(null=True)
    guide_version = models.PositiveIntegerField(default=1)
    guide_refused = models.JSONField(default=dict)
    staff_version = models.PositiveBigIntegerField(default=0)
    last_door_event_id = models.BigIntegerField(default=0)

    @property
    def devices_down(self) -> list[dict]:
        return [d for d in self.devices if d.get("status") not in USABLE_STATUSES]


USABLE_STATUSES = {"online", "busy", "user_error", "not_configured"}  # DeviceStatus.usable, and "not fitted"


class AuditHead(models.Model):
    """Every (seq, hash) a kiosk reported as the head of its audit chain, kept for good."""

    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.CASCADE, related_name="audit_heads")
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    reported_at = models.DateTimeField(auto_now_add=True)
    last_proved_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kiosk", "seq"], name="one_head_per_seq")]


class ArchivedAuditHead(models.Model):
    """Heads of a chain an administrator examined after it was flagged: evidence, no longer compared."""

    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.CASCADE, related_name="archived_audit_heads")
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    reported_at = models.DateTimeField()
    archived_at = models.DateTimeField(auto_now_add=True)


class DeviceOutage(models.Model):
    """A device not usable from ``started_at`` (kiosk's ``since``, clock-corrected) to ``ended_at``."""

    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.CASCADE, related_name="outages")
    device = models.CharField(max_length=40)
    status = models.CharField(max_length=30)
    detail = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["kiosk", "device"], condition=Q(ended_at=None),
                                               name="one_open_outage_per_device")]


class AlertKind(models.TextChoices):
    OFFLINE = "offline", _("Kiosk offline")
    DEVICE_DOWN = "device_down", _("Device down")
    COMPARTMENTS_OUT = "compartments_out", _("No free compartment")
    DOOR_JAMMED = "door_jammed", _("Door jammed")
    FORCED_OPEN = "forced_open", _("Door forced open")
    ORIGINALS_WAITING = "originals_waiting", _("Originals waiting too long")
    OUTBOX_STUCK = "outbox_stuck", _("Outbox stuck")
    AUDIT_REWRITTEN = "audit_rewritten", _("Audit log rewritten")
    HELP_REQUESTED = "help_requested", _("Resident asked for help")


class Alert(models.Model):
    """One condition of one kiosk, from raised to cleared. At most one open per (kiosk, kind, key)."""

    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    key = models.CharField(max_length=60, blank=True)  # the device, the compartment…
    message = models.TextField()
    raised_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True)
    cleared_by = models.CharField(max_length=150, blank=True)  # "condition ended" or the user who acknowledged

    class Meta:
        ordering = ["-raised_at"]
        constraints = [models.UniqueConstraint(fields=["kiosk", "kind", "key"], condition=Q(cleared_at=None),
                                               name="one_open_alert_per_condition")]

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class DutyContact(models.Model):
    """Who hears a town's fleet alerts, through apprise (the same URL forms the kiosk's outbox takes)."""

    town = models.ForeignKey("accounts.Town", on_delete=models.CASCADE, related_name="duty_contacts")
    name = models.CharField(max_length=80)
    apprise_url = models.CharField(max_length=500)
    on_duty = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({'on duty' if self.on_duty else 'off'})"


class Notification(models.Model):
    """Durable outbox of alert messages: written with the alert, sent by ``fleet_check``."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    contact = models.ForeignKey(DutyContact, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10)  # "raised" / "cleared"
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, db_index=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "contact", "event"], name="notify_once")]


class StaffCredential(models.Model):
    """A staff member's badge and PIN for the kiosks they serve: the PIN only as a scrypt digest,
    sealed with the back office's field key (its pepper). The plain PIN is never stored or sent."""

    profile = models.OneToOneField("accounts.Profile", on_delete=models.CASCADE, related_name="badge")
    badge_uid = models.CharField(max_length=32, unique=True)
    pin_kdf = models.CharField(max_length=40, blank=True)
    pin_salt = models.BinaryField(null=True)
    pin_digest_sealed = models.BinaryField(null=True)
    revoked_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)


class Counter(models.Model):
    """Monotonic versions (e.g. "staff"): bumped in the same transaction as the change."""

    name = models.CharField(max_length=40, unique=True)
    value = models.PositiveBigIntegerField(default=0)


class GuideVersionRecord(models.Model):
    """A service guide version: accepted ones can be published; refused ones keep their reason."""

    version = models.PositiveIntegerField(unique=True)
    services_toml = models.TextField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)
    uploaded_by = models.CharField(max_length=150, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    accepted = models.BooleanField(default=False)
    reason = models.TextField(blank=True)  # why it was refused
    published_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-version"]


class ResultPlacement(models.Model):
    """A result placed in a kiosk compartment, as the kiosk reported it."""

    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="placement")
    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.PROTECT, related_name="placements")
    compartment_id = models.CharField(max_length=20)
    placed_at = models.DateTimeField()
    actor = models.CharField(max_length=60)
    received_at = models.DateTimeField(auto_now_add=True)
