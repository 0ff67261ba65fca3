"""The public progress page's own records: every try to prove "this is my case", and how the
result goes back to the resident (locker at a named kiosk, counter, mail) with its dates.

Attempts are the audit and the rate limit at once: a window count over this table is what
refuses a guesser, per case and per address. The address is kept only as a keyed hash (an IP
is personal data too, and the count needs equality, nothing more).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from backoffice import crypto


class TrackAttempt(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", _("Verified")
        WRONG = "wrong", _("Wrong answer")
        LIMITED = "limited", _("Refused: too many tries")
        NOT_FOUND = "not_found", _("Unknown case code")

    case = models.ForeignKey("cases.Case", null=True, on_delete=models.PROTECT, related_name="track_attempts")
    case_code = models.CharField(max_length=20)  # as typed (unknown codes too)
    addr_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=20, blank=True)  # "pickup" / "id4" / "" (a plain view)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["case", "outcome", "at"], name="track_case_outcome_at"),
                   models.Index(fields=["addr_hash", "outcome", "at"], name="track_addr_outcome_at")]


class ResultReturn(models.Model):
    """How the result goes back: to a kiosk locker (which may be another kiosk than the deposit's),
    at the counter, or by mail with an address (sealed) and the tracking number once known."""

    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="result_return")
    channel = models.CharField(max_length=20)  # cases.Channel
    kiosk = models.ForeignKey("kiosks.Kiosk", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="results_assigned")
    mail_address_sealed = models.BinaryField(null=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    marked_by = models.CharField(max_length=150)
    marked_at = models.DateTimeField(auto_now_add=True)
    placed_at = models.DateTimeField(null=True)
    compartment_id = models.CharField(max_length=20, blank=True)
    collected_at = models.DateTimeField(null=True)
    reminded_at = models.DateTimeField(null=True)  # the "not fetched after N days" SMS and staff task

    def mail_address(self) -> str:
        return crypto.unseal_text(self.mail_address_sealed) or ""


class StaffTask(models.Model):
    """Work the town owes because of a resident: a result left unfetched, a 差评 to rectify."""

    class Kind(models.TextChoices):
        RESULT_UNFETCHED = "result_unfetched", _("Result not fetched: recover it")
        RECTIFY = "rectify", _("Bad rating: rectify")

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="staff_tasks")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    note = models.TextField(blank=True)
    due_date = models.DateField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True)
    done_by = models.CharField(max_length=150, blank=True)
    done_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], condition=models.Q(done_at=None),
                                               name="one_open_task_per_case_kind")]
