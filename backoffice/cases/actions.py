"""Every state change of cases, in one module (like Zulip's ``actions``): views and the API call
these; nothing else writes a case, a file, a history entry or an audit row.

Each function runs in one transaction and writes the history in the same one, so a step and its
record exist together or not at all. The kiosk API is acknowledged only after these return.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import contract
from backoffice import crypto
from backoffice.cases import blobs, render, workdays
from backoffice.cases.models import (
    Case,
    CaseFile,
    CaseHistory,
    CasePaper,
    Channel,
    IdentityReveal,
    KioskEventRecord,
    KnownService,
    State,
)
from backoffice.cases.workflow import STEPS
from backoffice.kiosks.models import Kiosk

log = logging.getLogger("backoffice.cases")


class WorkflowError(Exception):
    """A step the user may not take now; ``message`` is shown to them."""


def _aware(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def _history(case: Case, *, action: str, user: Any = None, actor: str = "", from_state: str = "",
             to_state: str = "", note: str = "", occurred_at: dt.datetime | None = None) -> None:
    CaseHistory.objects.create(case=case, user=user, actor=actor or (user.get_username() if user else ""),
                               action=action, from_state=from_state, to_state=to_state, note=note,
                               occurred_at=occurred_at)


def _missing_files(case: Case) -> tuple[str, ...]:
    return tuple(case.files.filter(complete=False).order_by("file_id").values_list("file_id", flat=True))


# ------------------------------------------------------------------------------------------------
# Delivery from the kiosk


def receive_package(kiosk: Kiosk, pkg: contract.CasePackage, *, clock_skew_s: float) -> contract.CaseReceipt:
    """Store a case once. The same package again changes nothing; another one under its code is refused."""
    if pkg.kiosk_id != kiosk.kiosk_id:
        raise contract.ContractError("case.kiosk_mismatch",
                                     f"case {pkg.case_code} names kiosk {pkg.kiosk_id}, not the sender", status=403)
    digest = contract.digest(pkg)
    try:
        with transaction.atomic():
            existing = Case.objects.select_for_update().filter(case_code=pkg.case_code).first()
            if existing is not None:
                return _same_package(existing, kiosk, digest)
            case = _create_case(kiosk, pkg, digest, clock_skew_s)
            return contract.CaseReceipt(case.case_code, True, _missing_files(case))
    except IntegrityError:
        # Another app process stored the same code between our check and our insert.
        with transaction.atomic():
            existing = Case.objects.select_for_update().get(case_code=pkg.case_code)
            return _same_package(existing, kiosk, digest)


def _same_package(existing: Case, kiosk: Kiosk, digest: str) -> contract.CaseReceipt:
    if existing.kiosk_id != kiosk.pk or existing.package_digest != digest:
        raise contract.ContractError("case.conflict",
                                     f"case {existing.case_code} is already held with different content", status=409)
    return contract.CaseReceipt(existing.case_code, False, _missing_files(existing))


def _create_case(kiosk: Kiosk, pkg: contract.CasePackage, digest: str, clock_skew_s: float) -> Case:
    ident = pkg.identity
    deposited = _aware(pkg.committed_at + clock_skew_s)
    # The clock starts when the case reaches the town, or when it was deposited if that is earlier.
    start = min(deposited, timezone.now())
    due = workdays.add_working_days(timezone.localtime(start).date(), pkg.service.promised_working_days)
    identity_json = json.dumps({"name": ident.name, "id_number": ident.id_number, "sex": ident.sex,
                                "nation": ident.nation, "card_expires": ident.card_expires}, ensure_ascii=False)
    case = Case.objects.create(
        case_code=pkg.case_code, town=kiosk.town, kiosk=kiosk, service_id=pkg.service.service_id,
        service_name_zh=pkg.service.name_zh, service_name_en=pkg.service.name_en,
        promised_working_days=pkg.service.promised_working_days,
        identity_sealed=crypto.seal(identity_json), phone_sealed=crypto.seal(pkg.phone),
        card_photo_sealed=crypto.seal(pkg.card_photo()),
        name_masked=crypto.mask_name(ident.name), id_number_masked=crypto.mask_id_number(ident.id_number),
        phone_masked=crypto.mask_phone(pkg.phone),
        face_outcome=pkg.checks.face, face_distance=pkg.checks.face_distance,
        face_frames_judged=pkg.checks.face_frames_judged, liveness=pkg.checks.liveness,
        fingerprint_enrolled=pkg.checks.fingerprint_enrolled, compartment_id=pkg.compartment_id or "",
        receipt_printed=pkg.receipt_printed, kiosk_created_at=pkg.created_at, kiosk_committed_at=pkg.committed_at,
        clock_skew_s=clock_skew_s, deposited_at=deposited, due_date=due, state=State.RECEIVED,
        package_digest=digest, contract_version=pkg.contract,
    )
    KnownService.objects.update_or_create(town=kiosk.town, service_id=pkg.service.service_id,
                                          defaults={"name_zh": pkg.service.name_zh, "name_en": pkg.service.name_en})
    CasePaper.objects.bulk_create([
        CasePaper(case=case, paper_id=p.paper_id, name_zh=p.name_zh, name_en=p.name_en, status=p.status, position=i)
        for i, p in enumerate(pkg.papers)])
    CaseFile.objects.bulk_create([
        CaseFile(case=case, file_id=f.file_id, paper_id=f.paper_id, page=f.page, content_type=f.content_type,
                 size=f.size, sha256=f.sha256) for f in pkg.files])
    note = ""
    if abs(clock_skew_s) > 120:
        note = f"kiosk clock off by {clock_skew_s / 3600:+.1f} h; times corrected"
    _history(case, action="received", actor=f"kiosk:{kiosk.kiosk_id}", to_state=State.RECEIVED, note=note,
             occurred_at=deposited)
    from backoffice.track import results as returns  # the resident's messages and pickup code (issue 14)

    returns.on_received(case, pkg.pickup_code)
    log.info("case %s received from kiosk %s (%d files)", case.case_code, kiosk.kiosk_id, len(pkg.files))
    return case


def _case_file(kiosk: Kiosk, case_code: str, file_id: str, *, lock: bool) -> CaseFile:
    qs = CaseFile.objects.filter(case__case_code=case_code, case__kiosk=kiosk, file_id=file_id)
    if lock:
        qs = qs.select_for_update()
    cf = qs.first()
    if cf is None:
        if not Case.objects.filter(case_code=case_code, kiosk=kiosk).exists():
            raise contract.ContractError("case.unknown", f"case {case_code} has not been delivered yet", status=404)
        raise contract.ContractError("file.unknown", f"case {case_code} has no file {file_id!r}", status=404)
    return cf


def _status(cf: CaseFile) -> contract.UploadStatus:
    return contract.UploadStatus(cf.file_id, cf.received, cf.size, cf.complete)


def upload_status(kiosk: Kiosk, case_code: str, file_id: str) -> contract.UploadStatus:
    return _status(_case_file(kiosk, case_code, file_id, lock=False))


def _held_bytes(cf: CaseFile, start: int, end: int) -> bytes:
    out = bytearray()
    for chunk_start, data in blobs.read_chunks(cf.pk, end):
        lo, hi = max(start, chunk_start), min(end, chunk_start + len(data))
        if lo < hi:
            out += data[lo - chunk_start:hi - chunk_start]
    return bytes(out)


class UploadGap(contract.ContractError):
    def __init__(self, received: int, start: int) -> None:
        super().__init__("upload.gap", f"this chunk starts at byte {start} but only {received} bytes are held; "
                         f"send from byte {received}", status=416)
        self.received = received


def upload_chunk(kiosk: Kiosk, case_code: str, file_id: str, content_range: str | None,
                 body: bytes) -> contract.UploadStatus:
    """Append one chunk (resends of held bytes change nothing). The row lock on the file makes two
    app processes taking chunks of the same file safe."""
    start, end, total = contract.parse_content_range(content_range)
    if len(body) != end - start:
        raise contract.ContractError("upload.range", f"Content-Range says {end - start} bytes, the body has "
                                     f"{len(body)}")
    failed: contract.ContractError | None = None
    with transaction.atomic():
        cf = _case_file(kiosk, case_code, file_id, lock=True)
        if total != cf.size:
            raise contract.ContractError("upload.size", f"file {file_id} is {cf.size} bytes in the package, "
                                         f"Content-Range says {total}", status=422)
        if cf.complete:
            return _status(cf)
        held = cf.received
        if start > held:
            raise UploadGap(held, start)
        overlap_end = min(end, held)
        if start < overlap_end and _held_bytes(cf, start, overlap_end) != body[:overlap_end - start]:
            raise contract.ContractError("upload.conflict", f"bytes {start}-{overlap_end - 1} differ from those "
                                         "already held", status=409)
        if end > held:
            new = body[held - start:]
            if end == cf.size:  # the last bytes: straight into the finished file, never a chunk row
                failed = _finish_upload(cf, tail=new)
            else:
                blobs.insert_chunk(cf.pk, held, new)
                cf.received = end
            cf.save(update_fields=["received", "complete", "blob_name", "page_count"])
            if cf.complete and not cf.case.files.filter(complete=False).exists():
                _history(cf.case, action="scans_complete", actor=f"kiosk:{kiosk.kiosk_id}",
                         note=f"{cf.case.files.count()} files")
    if failed is not None:
        raise failed
    return _status(cf)


def _finish_upload(cf: CaseFile, *, tail: bytes) -> contract.ContractError | None:
    """The held chunks plus ``tail`` make the whole file: check the SHA-256, then keep it behind the
    storage API (or discard the upload)."""
    data = (_held_bytes(cf, 0, cf.received) if cf.received else b"") + tail
    if cf.received:
        cf.chunks.all().delete()
    cf.received = len(data)
    if hashlib.sha256(data).hexdigest() != cf.sha256:
        cf.received = 0
        log.warning("upload of %s/%s discarded: checksum mismatch", cf.case.case_code, cf.file_id)
        return contract.ContractError("file.checksum", f"file {cf.file_id}: the bytes do not match the package's "
                                      "SHA-256; the upload was discarded, send it again from byte 0", status=422)
    name = f"scans/{cf.case.case_code}/{cf.file_id}"
    if default_storage.exists(name):
        default_storage.delete(name)
    cf.blob_name = default_storage.save(name, ContentFile(data))
    cf.page_count = render.page_count(data, cf.content_type)
    cf.complete = True
    return None


# ------------------------------------------------------------------------------------------------
# Kiosk events


def record_events(kiosk: Kiosk, batch: contract.EventBatch, *, clock_skew_s: float) -> contract.EventsReceipt:
    if batch.kiosk_id != kiosk.kiosk_id:
        raise contract.ContractError("events.kiosk_mismatch", "the batch names another kiosk", status=403)
    accepted: list[str] = []
    refused: dict[str, str] = {}
    for ev in batch.events:
        with transaction.atomic():
            if KioskEventRecord.objects.filter(kiosk=kiosk, event_id=ev.event_id).exists():
                accepted.append(ev.event_id)
                continue
            case = None
            if ev.case_code is not None:
                case = Case.objects.select_for_update().filter(case_code=ev.case_code, kiosk=kiosk).first()
                if case is None:
                    refused[ev.event_id] = "case.unknown: deliver the case first"
                    continue
            at = _aware(ev.at + clock_skew_s)
            KioskEventRecord.objects.create(kiosk=kiosk, event_id=ev.event_id, case=case, kind=ev.kind,
                                            occurred_at=at, kiosk_at=ev.at, actor=ev.actor,
                                            compartment_id=ev.compartment_id or "", detail=ev.detail)
            if case is not None:
                _apply_event(case, ev, at, kiosk)
            accepted.append(ev.event_id)
    return contract.EventsReceipt(tuple(accepted), refused)


def _apply_event(case: Case, ev: contract.KioskEvent, at: dt.datetime, kiosk: Kiosk) -> None:
    """What a kiosk event means for the case: a step when it fits the state, a history entry always."""
    before = case.state
    fields: list[str] = []
    note = ev.compartment_id and f"compartment {ev.compartment_id}" or ""
    kind = contract.EventKind(ev.kind)
    if kind is contract.EventKind.COLLECTED and case.state == State.RECEIVED:
        case.state, case.collected_at, case.collected_by = State.COLLECTED, at, ev.actor
        fields += ["state", "collected_at", "collected_by"]
    elif kind is contract.EventKind.RESULT_PLACED and case.state in (State.APPROVED, State.REJECTED,
                                                                      State.MORE_PAPERS):
        case.state, case.result_channel = State.RETURNED, Channel.LOCKER
        fields += ["state", "result_channel"]
    elif kind is contract.EventKind.RESULT_COLLECTED and case.state == State.RETURNED:
        case.state = State.CLOSED
        fields.append("state")
    elif kind is contract.EventKind.CANCELLED and case.state == State.RECEIVED:
        case.state = State.CLOSED
        fields.append("state")
        note = (note + "; " if note else "") + "cancelled at the kiosk"
    elif kind in (contract.EventKind.DOOR_JAMMED, contract.EventKind.FORCED_OPEN):
        case.alert = f"{kind.value} ({ev.compartment_id or '-'})"
        fields.append("alert")
    if fields:
        case.save(update_fields=[*fields, "updated_at"])
        from backoffice.track import results as returns

        if kind is contract.EventKind.RESULT_PLACED:
            returns.on_placed(case, ev.compartment_id or "", at)
        elif kind is contract.EventKind.RESULT_COLLECTED:
            returns.on_collected(case, at)
    _history(case, action=f"kiosk_{kind.value}", actor=ev.actor, from_state=before if case.state != before else "",
             to_state=case.state if case.state != before else "", note=note, occurred_at=at)
    log.info("case %s: kiosk %s event %s", case.case_code, kiosk.kiosk_id, kind.value)


# ------------------------------------------------------------------------------------------------
# Clerks' work


def take_step(case: Case, user: Any, step_name: str, *, reason: str = "", channel: str = "") -> Case:
    """Move a case one workflow step, recording who and when. Refuses what the role or state forbids."""
    from backoffice.accounts.scope import role_of

    step = STEPS.get(step_name)
    if step is None:
        raise WorkflowError(_("Unknown step."))
    reason = reason.strip()
    if step.needs_reason and len(reason) < 2:
        raise WorkflowError(_("A reason the resident will read is required."))
    if step.needs_channel and channel not in Channel.values:
        raise WorkflowError(_("Choose how the result was returned."))
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if role_of(user) not in step.roles:
            raise WorkflowError(_("Your role cannot take this step."))
        if locked.state not in step.sources:
            raise WorkflowError(_("The case is now “%(state)s”; reload the page.")
                                % {"state": locked.get_state_display()})
        before = locked.state
        locked.state = step.target
        fields = ["state", "updated_at"]
        if step.name == "collect":
            locked.collected_at, locked.collected_by = timezone.now(), user.get_username()
            fields += ["collected_at", "collected_by"]
        if step.needs_reason:
            locked.decision_reason = reason
            fields.append("decision_reason")
        if step.needs_channel:
            locked.result_channel = channel
            fields.append("result_channel")
        locked.save(update_fields=fields)
        note = reason or (Channel(channel).label if channel else "")
        _history(locked, action=step.name, user=user, from_state=before, to_state=step.target, note=str(note))
        from backoffice.notifications import actions as sms

        sms.on_step(locked, step.name, f"step-{locked.history.count()}")
    log.info("case %s: %s by user %s", locked.case_code, step.name, user.pk)
    return locked


def reveal_identity(case: Case, user: Any, reason: str) -> dict:
    """The unmasked identity, for this one response, after recording who asked and why."""
    reason = reason.strip()
    if len(reason) < 4:
        raise WorkflowError(_("Say why you need to see the identity (at least 4 characters)."))
    with transaction.atomic():
        IdentityReveal.objects.create(case=case, user=user, reason=reason[:300])
        _history(case, action="identity_shown", user=user, note=reason[:300])
    log.info("case %s: identity shown to user %s", case.case_code, user.pk)
    photo = case.card_photo()
    return {**case.identity(), "phone": case.phone() or "", "card_photo": photo}


def record_export(case: Case, user: Any, how: str) -> None:
    """An export carries the identity out: audited like a reveal."""
    with transaction.atomic():
        IdentityReveal.objects.create(case=case, user=user, reason=f"export: {how}"[:300])
        _history(case, action="exported", user=user, note=how)
