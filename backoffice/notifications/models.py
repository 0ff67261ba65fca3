"""Text messages to residents: the templates an admin edits, the durable outbox, and the one
secret a message needs that the case row does not hold (the pickup code, sealed).

A message is written in the same transaction as the step that causes it, so a step never
happens without its message queued; ``sms_send`` delivers and retries. The number and the text
(which may carry the pickup code) are sealed; lists show the masked number only.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from backoffice import crypto


class Kind(models.TextChoices):
    RECEIVED = "received", _("受理 Received")
    MORE_PAPERS = "more_papers", _("需补件 More papers needed")
    DONE = "done", _("办结 Done")
    RESULT_READY = "result_ready", _("结果可领取 Result ready")
    REMINDER = "reminder", _("提醒领取 Reminder to collect")


DEFAULT_TEXTS: dict[str, str] = {
    Kind.RECEIVED: "【{town}】您的“{service}”申请已受理，受理编号{case_code}，可扫描回执二维码查看进度。",
    Kind.MORE_PAPERS: "【{town}】您的申请{case_code}需补充材料：{reason}。请按要求补交。",
    Kind.DONE: "【{town}】您的申请{case_code}已办结：{outcome}。",
    Kind.RESULT_READY: "【{town}】您的办理结果（{case_code}）已放入{kiosk}自助柜{compartment}号柜格，"
                       "取件码{pickup_code}，请凭身份证或取件码领取。",
    Kind.REMINDER: "【{town}】您的办理结果（{case_code}）已在{kiosk}自助柜放置{days}天，请尽快领取。",
}


class SmsTemplate(models.Model):
    """The text of one kind of message; placeholders in braces (see DEFAULT_TEXTS)."""

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    text = models.TextField(help_text=_("Placeholders: {town} {service} {case_code} {reason} {outcome} {kiosk} "
                                        "{compartment} {pickup_code} {days}"))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.get_kind_display()


class SmsMessage(models.Model):
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="sms")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=60, blank=True)  # what makes it one message (a history row, a day…)
    to_sealed = models.BinaryField()
    to_masked = models.CharField(max_length=20)
    body_sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "kind", "key"], name="sms_once")]

    def to(self) -> str:
        return crypto.unseal_text(self.to_sealed) or ""

    def body(self) -> str:
        return crypto.unseal_text(self.body_sealed) or ""


class CaseSecret(models.Model):
    """The pickup code the kiosk sent with the case (over its authenticated channel), sealed: the
    result-ready message carries it, and the progress page accepts it as proof."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="secret")
    pickup_sealed = models.BinaryField()

    def pickup_code(self) -> str:
        return crypto.unseal_text(self.pickup_sealed) or ""
