"""好差评 (GB/T 39734-2020 / 39735-2020): every rating a resident gave, the rectification each 差评
opens (deadline in working days, the call-back to the resident, the fix and its own rating), and
what was forwarded to the provincial platform.

A rating is keyed by its visit (``rating_id``): the first one held stands (一次一评); the online
rating of a case is keyed by the case (一事一评). Service, kiosk, village and clerk are copied onto
the rating when it arrives, so the statistics stay right when a kiosk moves or a clerk leaves.
"""

from __future__ import annotations

from django.db import models

LEVELS = (("very_satisfied", "非常满意", "Very satisfied", 5), ("satisfied", "满意", "Satisfied", 4),
          ("basically_satisfied", "基本满意", "Basically satisfied", 3), ("dissatisfied", "不满意", "Dissatisfied", 2),
          ("very_dissatisfied", "非常不满意", "Very dissatisfied", 1))
REASONS = (("waiting", "等候时间长", "Waiting"), ("device_failed", "设备故障", "Device failed"),
           ("instructions_unclear", "指引不清楚", "Instructions unclear"),
           ("staff_attitude", "工作人员态度", "Staff attitude"), ("other", "其他", "Other"))


class Rating(models.Model):
    rating_id = models.CharField(max_length=100, unique=True)
    case = models.ForeignKey("cases.Case", null=True, on_delete=models.PROTECT, related_name="ratings")
    occasion = models.CharField(max_length=20)  # contract.RatingOccasion, or "fix" (rating of a rectification)
    level = models.CharField(max_length=30, choices=[(v, f"{zh} {en}") for v, zh, en, _s in LEVELS])
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    note = models.CharField(max_length=200, blank=True)
    named = models.BooleanField()  # tied to a case, so to a resident who can be called back
    town = models.ForeignKey("accounts.Town", on_delete=models.PROTECT, related_name="ratings")
    kiosk = models.ForeignKey("kiosks.Kiosk", null=True, on_delete=models.PROTECT, related_name="ratings")
    village = models.CharField(max_length=60, blank=True)
    service_id = models.CharField(max_length=80, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    clerk = models.CharField(max_length=150, blank=True)  # who decided the case, when one had
    rated_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)
    forwarded_at = models.DateTimeField(null=True, db_index=True)
    forward_attempts = models.PositiveIntegerField(default=0)
    forward_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-rated_at"]

    @property
    def is_bad(self) -> bool:
        return self.score <= 2


class Rectification(models.Model):
    """What a 差评 obliges the town to do, by a deadline in working days."""

    rating = models.OneToOneField(Rating, on_delete=models.PROTECT, related_name="rectification")
    due_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    callback_at = models.DateTimeField(null=True)
    callback_by = models.CharField(max_length=150, blank=True)
    callback_note = models.TextField(blank=True)
    fixed_at = models.DateTimeField(null=True)
    fixed_by = models.CharField(max_length=150, blank=True)
    fixed_note = models.TextField(blank=True)
    fix_rating = models.OneToOneField(Rating, null=True, on_delete=models.PROTECT, related_name="rates_fix")

    class Meta:
        ordering = ["due_date", "id"]
