"""A case as the back office holds it: what the kiosk delivered, where it is in the workflow, and
an append-only history of who did what when.

Identity, phone and card photo are sealed (``backoffice.crypto``); screens show the masked forms
stored beside them. ``CaseHistory`` and ``IdentityReveal`` refuse updates and deletes here, and on
PostgreSQL a trigger refuses them in the database too (migration 0002), so not even a raw SQL
session of the app can rewrite what happened.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from backoffice import crypto


class State(models.TextChoices):
    RECEIVED = "received", _("Received")
    COLLECTED = "collected", _("Originals collected")
    PROCESSING = "processing", _("Processing")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    MORE_PAPERS = "more_papers", _("More papers needed")
    RETURNED = "returned", _("Result returned")
    CLOSED = "closed", _("Closed")


# States in which the town still owes the resident a decision: only these can be overdue.
OPEN_STATES = (State.RECEIVED, State.COLLECTED, State.PROCESSING)


class Channel(models.TextChoices):
    LOCKER = "locker", _("Kiosk locker")
    COUNTER = "counter", _("At the counter")
    MAIL = "mail", _("By mail")


class Case(models.Model):
    case_code = models.CharField(max_length=8, unique=True)
    town = models.ForeignKey("accounts.Town", on_delete=models.PROTECT, related_name="cases")
    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.PROTECT, related_name="cases")
    service_id = models.CharField(max_length=80)
    service_name_zh = models.CharField(max_length=200)
    service_name_en = models.CharField(max_length=200)
    promised_working_days = models.PositiveIntegerField()
    # Personal data: sealed; the masked forms are what lists and the case page show.
    identity_sealed = models.BinaryField()
    phone_sealed = models.BinaryField(null=True)
    card_photo_sealed = models.BinaryField(null=True)
    name_masked = models.CharField(max_length=60)
    id_number_masked = models.CharField(max_length=30)
    phone_masked = models.CharField(max_length=20, blank=True)
    # Outcomes of the kiosk's checks, never the biometric data.
    face_outcome = models.CharField(max_length=30)
    face_distance = models.FloatField(null=True)
    face_frames_judged = models.PositiveIntegerField(default=0)
    liveness = models.CharField(max_length=30)
    fingerprint_enrolled = models.BooleanField()
    compartment_id = models.CharField(max_length=20, blank=True)
    receipt_printed = models.BooleanField(default=False)
    # Times: the kiosk's clock as sent, the offset measured on delivery, and corrected times.
    kiosk_created_at = models.FloatField()
    kiosk_committed_at = models.FloatField()
    clock_skew_s = models.FloatField(default=0.0)
    deposited_at = models.DateTimeField(help_text=_("When the resident committed the case (corrected clock)."))
    received_at = models.DateTimeField(auto_now_add=True)
    due_date = models.DateField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED)
    package_digest = models.CharField(max_length=64)
    contract_version = models.PositiveIntegerField()
    collected_at = models.DateTimeField(null=True)
    collected_by = models.CharField(max_length=80, blank=True)
    decision_reason = models.TextField(blank=True, help_text=_("What the resident is told."))
    result_channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    alert = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The inbox orders by (due_date, id) and stops after a page: each filter has an index in
            # that order, so a page is an index range scan however many cases the town holds.
            models.Index(fields=["town", "due_date", "id"], name="case_town_due"),
            models.Index(fields=["town", "state", "due_date", "id"], name="case_town_state_due_id"),
            models.Index(fields=["kiosk", "due_date", "id"], name="case_kiosk_due_id"),
            models.Index(fields=["town", "service_id", "due_date", "id"], name="case_town_service_due_id"),
        ]

    def __str__(self) -> str:
        return self.case_code

    def identity(self) -> dict:
        import json

        return json.loads(crypto.unseal_text(self.identity_sealed) or "{}")

    def phone(self) -> str | None:
        return crypto.unseal_text(self.phone_sealed)

    def card_photo(self) -> bytes | None:
        return crypto.unseal(self.card_photo_sealed)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class KnownService(models.Model):
    """The services a town's cases have named, for the inbox filter (a DISTINCT over a million cases
    would be slow)."""

    town = models.ForeignKey("accounts.Town", on_delete=models.CASCADE, related_name="services")
    service_id = models.CharField(max_length=80)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)

    class Meta:
        ordering = ["service_id"]
        constraints = [models.UniqueConstraint(fields=["town", "service_id"], name="service_once_per_town")]


class CasePaper(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="papers")
    paper_id = models.CharField(max_length=80)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    status = models.CharField(max_length=20)  # contract.PaperStatus
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["case", "paper_id"], name="paper_once_per_case")]


class CaseFile(models.Model):
    """One scanned file of a case. Until ``complete`` its bytes are ``UploadChunk`` rows; then a blob."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="files")
    file_id = models.CharField(max_length=80)
    paper_id = models.CharField(max_length=80)
    page = models.PositiveIntegerField()
    content_type = models.CharField(max_length=60)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    received = models.PositiveBigIntegerField(default=0)
    complete = models.BooleanField(default=False)
    blob_name = models.CharField(max_length=200, blank=True)
    page_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["paper_id", "page", "file_id"]
        constraints = [models.UniqueConstraint(fields=["case", "file_id"], name="file_once_per_case")]


class UploadChunk(models.Model):
    """Bytes of an unfinished upload, in the database so that any app process can continue it."""

    file = models.ForeignKey(CaseFile, on_delete=models.CASCADE, related_name="chunks")
    start = models.PositiveBigIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "start"], name="chunk_once_per_offset")]


class StoredBlob(models.Model):
    """What ``DatabaseStorage`` keeps: a finished file, reachable from every app process."""

    name = models.CharField(max_length=200, unique=True)
    data = models.BinaryField()
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("history is append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise PermissionError("history is append-only")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and type(self).objects.filter(pk=self.pk).exists():
            raise PermissionError("history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("history is append-only")


class CaseHistory(AppendOnly):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="history")
    at = models.DateTimeField(auto_now_add=True)
    occurred_at = models.DateTimeField(null=True, help_text=_("For kiosk events: when it happened there (corrected)."))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    actor = models.CharField(max_length=80)  # the user's name, or the kiosk's masked actor
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]


class IdentityReveal(AppendOnly):
    """Who saw a case's identity unmasked, and why they said they needed to."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reveals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at"]


class KioskEventRecord(models.Model):
    """A kiosk event as received; its ``event_id`` makes a resend change nothing."""

    kiosk = models.ForeignKey("kiosks.Kiosk", on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=80)
    case = models.ForeignKey(Case, null=True, on_delete=models.PROTECT, related_name="kiosk_events")
    kind = models.CharField(max_length=30)
    occurred_at = models.DateTimeField()
    kiosk_at = models.FloatField()
    actor = models.CharField(max_length=60)
    compartment_id = models.CharField(max_length=20, blank=True)
    detail = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kiosk", "event_id"], name="event_once_per_kiosk")]
