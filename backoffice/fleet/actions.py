"""Every change of fleet records: heartbeats in, audit heads kept and checked, outages, alerts
raised and cleared once, notifications queued, staff badges and PINs, guide versions, placements.

Why alerts are deduplicated by the database: two app processes may take two heartbeats of the
same kiosk at once; the partial unique constraint "one open alert per (kiosk, kind, key)" makes
the second raise a no-op instead of a second message, whatever process it runs in.

Why a periodic check as well as the heartbeat: every condition a heartbeat carries (device down
for N minutes, no compartment free, originals waiting, outbox stuck, a chain that no longer
holds a head it reported) is judged when the heartbeat arrives. Silence is the one condition no
heartbeat can report, so ``fleet_check`` (a systemd timer every 30 s, and the tests) marks a kiosk
offline after ``missed_heartbeats`` intervals and sends the queued notifications.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import random
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

import contract
from backoffice import crypto
from backoffice.fleet.models import (
    USABLE_STATUSES,
    Alert,
    AlertKind,
    ArchivedAuditHead,
    AuditHead,
    Counter,
    DeviceOutage,
    DutyContact,
    GuideVersionRecord,
    KioskState,
    Notification,
    ResultPlacement,
    StaffCredential,
)
from backoffice.kiosks.models import Kiosk

log = logging.getLogger("backoffice.fleet")

# The kiosk's PIN hash parameters (locker/staff.py): the kiosk verifies with the same scrypt.
PIN_KDF = "scrypt:16384:8:1"
PIN_MIN_DIGITS, PIN_MAX_DIGITS = 6, 12
UNANSWERED_LIMIT = 3  # a kiosk that stops proving its chain is flagged, not one that lost one answer
FIRST_GUIDE = Path(__file__).resolve().parents[2] / "assets" / "guide" / "services.toml"


@dataclass(frozen=True)
class Thresholds:
    missed_heartbeats: int = 3
    device_down_minutes: float = 10.0
    originals_hours: float = 12.0
    outbox_stuck_minutes: float = 30.0
    challenge_size: int = 3


def thresholds() -> Thresholds:
    return Thresholds(**getattr(settings, "FLEET", {}))


def _at(epoch: float | None, skew: float) -> dt.datetime | None:
    """A kiosk time, corrected by the kiosk's measured clock offset."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch + skew, tz=dt.UTC)


# --------------------------------------------------------------------------------------------
# Heartbeats


def receive_heartbeat(kiosk: Kiosk, hb: contract.Heartbeat, *, clock_skew_s: float) -> contract.HeartbeatAnswer:
    if hb.kiosk_id != kiosk.kiosk_id:
        raise contract.ContractError("heartbeat.kiosk_mismatch", "the heartbeat names another kiosk", status=403)
    limits = thresholds()
    now = timezone.now()
    with transaction.atomic():
        KioskState.objects.get_or_create(kiosk=kiosk)
        state = KioskState.objects.select_for_update().get(kiosk=kiosk)
        alerts = Alerts(kiosk)
        _check_audit(kiosk, state, hb, alerts, now)
        _follow_devices(kiosk, state, hb, clock_skew_s, now)
        was_online = state.online or state.last_heartbeat_at is None
        state.last_heartbeat_at = now
        state.interval_s = hb.interval_s
        state.heartbeats = F("heartbeats") + 1
        state.online, state.offline_since = True, None
        state.software_version = hb.software_version
        state.disk_free_bytes, state.disk_total_bytes = hb.disk_free_bytes, hb.disk_total_bytes
        state.devices = [{"name": d.name, "status": d.status, "detail": d.detail, "since": d.since + clock_skew_s}
                         for d in hb.devices]
        state.compartments = hb.compartments.to_json()
        state.originals_waiting = hb.originals_waiting
        state.oldest_original_at = _at(hb.oldest_original_at, clock_skew_s)
        state.outbox_depth = hb.outbox_depth
        state.oldest_undelivered_at = _at(hb.oldest_undelivered_at, clock_skew_s)
        state.outbox_last_error = hb.outbox_last_error or ""
        state.guide_version, state.guide_refused = hb.guide_version, hb.guide_refused
        state.staff_version = hb.staff_version
        if not was_online:
            alerts.clear(AlertKind.OFFLINE, "", "came back")
        _judge_conditions(kiosk, state, limits, alerts, now)
        state.audit_challenge = _challenge(kiosk, hb.audit_seq, limits.challenge_size)
        state.save()
        if kiosk.software_version != hb.software_version:
            Kiosk.objects.filter(pk=kiosk.pk).update(software_version=hb.software_version)
    return contract.HeartbeatAnswer(received_at=now.timestamp(), audit_challenge=tuple(state.audit_challenge),
                                    staff_version=staff_version(), guide_version=current_guide().version,
                                    results_waiting=_results_query(kiosk).count())


def _check_audit(kiosk: Kiosk, state: KioskState, hb: contract.Heartbeat, alerts: Alerts, now: dt.datetime) -> None:
    """Compare what the kiosk's chain holds now with every head it reported before."""
    problems: list[str] = []
    # Every proof sent is checked against the head kept for its seq, asked for or not: an answer
    # lost on the way means the kiosk answers the older challenge, which is just as good.
    proofs = {p.seq: p.hash for p in hb.audit_proofs}
    if state.audit_challenge and not proofs:
        state.audit_unanswered += 1
        if state.audit_unanswered >= UNANSWERED_LIMIT:
            problems.append(f"answered no audit challenge for {state.audit_unanswered} heartbeats")
    else:
        state.audit_unanswered = 0
    known = {h.seq: h for h in AuditHead.objects.filter(kiosk=kiosk, seq__in=[*proofs, hb.audit_seq])}
    for seq, h in proofs.items():
        head = known.get(seq)
        if head is None:
            continue
        if h is None:
            problems.append(f"audit row {seq}, reported on {head.reported_at:%Y-%m-%d %H:%M}, is gone from the chain")
        elif not hmac.compare_digest(h, head.hash):
            problems.append(f"audit row {seq} now has another hash than the one reported on "
                            f"{head.reported_at:%Y-%m-%d %H:%M} (rewritten)")
        else:
            AuditHead.objects.filter(pk=head.pk).update(last_proved_at=now)
    highest = AuditHead.objects.filter(kiosk=kiosk).aggregate(m=Max("seq"))["m"] or 0
    if hb.audit_seq < highest:
        problems.append(f"the chain ends at row {hb.audit_seq}, but the kiosk reported row {highest} before (cut or "
                        "replaced)")
    current = known.get(hb.audit_seq)
    if current is not None and not hmac.compare_digest(current.hash, hb.audit_hash):
        problems.append(f"audit row {hb.audit_seq} now has another hash than reported before (rewritten)")
    elif current is None and hb.audit_seq > 0:
        AuditHead.objects.get_or_create(kiosk=kiosk, seq=hb.audit_seq, defaults={"hash": hb.audit_hash})
    state.audit_seq, state.audit_hash = hb.audit_seq, hb.audit_hash
    if problems:
        text = "; ".join(problems)
        log.error("kiosk %s audit chain does not hold what it reported: %s", kiosk.kiosk_id, text)
        if not state.audit_flag:
            state.audit_flag, state.audit_flagged_at = text, now
        alerts.raise_(AlertKind.AUDIT_REWRITTEN, "", f"The audit log of {kiosk.name} was rewritten, cut or replaced: "
                      f"{text}. Nobody can trust its record of this kiosk until it is examined.")


def _challenge(kiosk: Kiosk, head_seq: int, size: int) -> list[int]:
    """Seqs to prove next time: the first head, the previous one and random ones (unpredictable).

    Index lookups only (the unique (kiosk, seq) index), so the cost does not grow with the heads kept.
    """
    heads = AuditHead.objects.filter(kiosk=kiosk, seq__lt=head_seq)
    first = heads.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        return []
    last = heads.order_by("-seq").values_list("seq", flat=True).first()
    chosen = {first, last}
    rnd = random.SystemRandom()
    for _ in range(max(0, size - 2) * 2):
        if len(chosen) >= size or last - first < 2:
            break
        pick = heads.filter(seq__gte=rnd.randint(first, last)).order_by("seq").values_list("seq", flat=True).first()
        if pick is not None:
            chosen.add(pick)
    return sorted(chosen)


def _follow_devices(kiosk: Kiosk, state: KioskState, hb: contract.Heartbeat, skew: float, now: dt.datetime) -> None:
    """Open an outage when a device stops being usable, close it when it is usable again."""
    open_ = {o.device: o for o in DeviceOutage.objects.filter(kiosk=kiosk, ended_at=None)}
    for d in hb.devices:
        down = d.status not in USABLE_STATUSES
        outage = open_.pop(d.name, None)
        if down and outage is None:
            DeviceOutage.objects.create(kiosk=kiosk, device=d.name, status=d.status, detail=d.detail[:300],
                                        started_at=_at(d.since, skew) or now)
        elif not down and outage is not None:
            outage.ended_at = _at(d.since, skew) or now
            outage.save(update_fields=["ended_at"])
        elif down and outage is not None and (outage.status, outage.detail) != (d.status, d.detail[:300]):
            outage.status, outage.detail = d.status, d.detail[:300]
            outage.save(update_fields=["status", "detail"])
    for outage in open_.values():  # a device the kiosk no longer reports
        outage.ended_at = now
        outage.save(update_fields=["ended_at"])


def _judge_conditions(kiosk: Kiosk, state: KioskState, limits: Thresholds, alerts: Alerts,
                      now: dt.datetime) -> None:
    for d in state.devices:
        down_s = max(0.0, now.timestamp() - float(d["since"]))  # X-Kiosk-Time is whole seconds
        if d["status"] not in USABLE_STATUSES and down_s >= limits.device_down_minutes * 60:
            alerts.raise_(AlertKind.DEVICE_DOWN, d["name"],
                          f"{kiosk.name}: {d['name']} has been {d['status']} for {down_s / 60:.0f} min"
                          f"{': ' + d['detail'] if d['detail'] else ''}")
        elif d["status"] in USABLE_STATUSES:
            alerts.clear(AlertKind.DEVICE_DOWN, d["name"], "device back")
    reported = {d["name"] for d in state.devices}
    for (kind, key) in list(alerts.open):
        if kind == AlertKind.DEVICE_DOWN and key not in reported:
            alerts.clear(kind, key, "device no longer reported")
    comp = state.compartments
    if comp.get("total", 0) and comp.get("free", 0) == 0:
        alerts.raise_(AlertKind.COMPARTMENTS_OUT, "", f"{kiosk.name}: no compartment is free "
                      f"({comp.get('occupied', 0)} occupied, {comp.get('out_of_order', 0)} out of order)")
    else:
        alerts.clear(AlertKind.COMPARTMENTS_OUT, "", "a compartment is free again")
    oldest = state.oldest_original_at
    if state.originals_waiting and oldest and now - oldest >= dt.timedelta(hours=limits.originals_hours):
        alerts.raise_(AlertKind.ORIGINALS_WAITING, "", f"{kiosk.name}: {state.originals_waiting} case(s) of originals "
                      f"wait for collection, the oldest since {timezone.localtime(oldest):%Y-%m-%d %H:%M}")
    else:
        alerts.clear(AlertKind.ORIGINALS_WAITING, "", "originals collected")
    stuck = state.oldest_undelivered_at
    if state.outbox_depth and stuck and now - stuck >= dt.timedelta(minutes=limits.outbox_stuck_minutes):
        alerts.raise_(AlertKind.OUTBOX_STUCK, "", f"{kiosk.name}: {state.outbox_depth} case(s) not delivered, the "
                      f"oldest since {timezone.localtime(stuck):%Y-%m-%d %H:%M}"
                      f"{' — ' + state.outbox_last_error[:300] if state.outbox_last_error else ''}")
    else:
        alerts.clear(AlertKind.OUTBOX_STUCK, "", "outbox delivered")
    _door_events(kiosk, state, alerts)


def _door_events(kiosk: Kiosk, state: KioskState, alerts: Alerts) -> None:
    """Jammed or forced doors the kiosk reported as events; a jam clears when its compartment is back."""
    from backoffice.cases.models import KioskEventRecord

    kinds = {contract.EventKind.DOOR_JAMMED.value: AlertKind.DOOR_JAMMED,
             contract.EventKind.FORCED_OPEN.value: AlertKind.FORCED_OPEN}
    placed = contract.EventKind.RESULT_PLACED.value
    help_ = contract.EventKind.HELP_REQUESTED.value
    for ev in KioskEventRecord.objects.filter(kiosk=kiosk, kind__in=[*kinds, placed, help_],
                                              id__gt=state.last_door_event_id).order_by("id"):
        state.last_door_event_id = ev.id
        if ev.kind == help_:  # an open help request until a person acknowledges it (one per kiosk)
            d = ev.detail or {}
            alerts.raise_(AlertKind.HELP_REQUESTED, "help",
                          f"{kiosk.name}: a resident asked for help at {timezone.localtime(ev.occurred_at):%H:%M} "
                          f"(step {d.get('step') or d.get('screen') or '-'}, {d.get('step_seconds', '?')} s on it, "
                          f"{d.get('visit_seconds', '?')} s into the visit)")
            continue
        if ev.kind == placed:  # a result placed through the kiosk's own flow: where and when
            if ev.case_id is not None and ev.compartment_id:
                ResultPlacement.objects.get_or_create(case_id=ev.case_id, defaults={
                    "kiosk": kiosk, "compartment_id": ev.compartment_id, "placed_at": ev.occurred_at,
                    "actor": ev.actor})
            continue
        what = "jammed" if ev.kind == "door_jammed" else "was forced open"
        alerts.raise_(kinds[ev.kind], ev.compartment_id or "?", f"{kiosk.name}: the door of compartment "
                      f"{ev.compartment_id or '?'} {what} at {timezone.localtime(ev.occurred_at):%Y-%m-%d %H:%M}")
    out_of_order = set(state.compartments.get("out_of_order_ids", []))
    for (kind, key) in list(alerts.open):
        if kind == AlertKind.DOOR_JAMMED and key not in out_of_order:
            alerts.clear(kind, key, "compartment back in service")


class Alerts:
    """The open alerts of one kiosk: raise once, clear once, and queue the messages with them."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.open = {(a.kind, a.key): a for a in Alert.objects.filter(kiosk=kiosk, cleared_at=None)}

    def raise_(self, kind: str, key: str, message: str) -> Alert | None:
        if (kind, key) in self.open:
            return None
        try:
            with transaction.atomic():
                alert = Alert.objects.create(kiosk=self.kiosk, kind=kind, key=key, message=message)
        except IntegrityError:  # another app process raised it a moment ago
            return None
        self.open[(kind, key)] = alert
        log.warning("fleet alert raised: %s %s %s: %s", self.kiosk.kiosk_id, kind, key, message)
        _queue(alert, "raised", f"⚠ {AlertKind(kind).label}: {self.kiosk.name}", message)
        return alert

    def clear(self, kind: str, key: str, why: str, *, by: str = "") -> Alert | None:
        alert = self.open.pop((kind, key), None)
        if alert is None:
            return None
        alert.cleared_at, alert.cleared_by = timezone.now(), by or why
        alert.save(update_fields=["cleared_at", "cleared_by"])
        log.info("fleet alert cleared: %s %s %s (%s)", self.kiosk.kiosk_id, kind, key, why)
        _queue(alert, "cleared", f"✓ {AlertKind(kind).label}: {self.kiosk.name}", f"Cleared ({why}): {alert.message}")
        return alert


def _queue(alert: Alert, event: str, title: str, body: str) -> None:
    contacts = DutyContact.objects.filter(town_id=alert.kiosk.town_id, on_duty=True)
    Notification.objects.bulk_create([Notification(alert=alert, contact=c, event=event, title=title[:200], body=body)
                                      for c in contacts], ignore_conflicts=True)


def acknowledge(alert: Alert, user: Any) -> None:
    """A person closes an alert no heartbeat can clear (a forced door, a rewritten audit log)."""
    with transaction.atomic():
        alerts = Alerts(alert.kiosk)
        alerts.clear(alert.kind, alert.key, "acknowledged", by=user.get_username())
        if alert.kind == AlertKind.AUDIT_REWRITTEN:
            # The examined chain is the new reference: keep the old heads (evidence), start a new epoch.
            KioskState.objects.filter(kiosk=alert.kiosk).update(audit_flag="", audit_flagged_at=None,
                                                                audit_challenge=[])
            _archive_heads(alert.kiosk)


def _archive_heads(kiosk: Kiosk) -> None:
    """Heads of the examined (rewritten) chain move to history so the new chain is judged on its own."""
    heads = list(AuditHead.objects.filter(kiosk=kiosk))
    ArchivedAuditHead.objects.bulk_create([ArchivedAuditHead(kiosk=kiosk, seq=h.seq, hash=h.hash,
                                                             reported_at=h.reported_at) for h in heads])
    AuditHead.objects.filter(kiosk=kiosk).delete()


def check_fleet(now: dt.datetime | None = None) -> list[str]:
    """Mark kiosks silent for ``missed_heartbeats`` intervals offline (alert once). Returns their ids."""
    now = now or timezone.now()
    limits = thresholds()
    went: list[str] = []
    for state in KioskState.objects.filter(online=True, last_heartbeat_at__isnull=False).select_related("kiosk"):
        if now - state.last_heartbeat_at < dt.timedelta(seconds=state.interval_s * limits.missed_heartbeats):
            continue
        with transaction.atomic():
            locked = KioskState.objects.select_for_update().get(pk=state.pk)
            if not locked.online or locked.last_heartbeat_at != state.last_heartbeat_at:
                continue  # a heartbeat arrived meanwhile
            locked.online, locked.offline_since = False, locked.last_heartbeat_at
            locked.save(update_fields=["online", "offline_since"])
            since = timezone.localtime(state.last_heartbeat_at)
            Alerts(state.kiosk).raise_(AlertKind.OFFLINE, "", f"{state.kiosk.name} ({state.kiosk.village}) sent no "
                                       f"heartbeat since {since:%Y-%m-%d %H:%M:%S} ({limits.missed_heartbeats} missed)")
            went.append(state.kiosk.kiosk_id)
    return went


def is_offline(state: KioskState | None, now: dt.datetime | None = None) -> bool:
    """What the dashboard shows: silent for ``missed_heartbeats`` intervals, whether or not checked yet."""
    if state is None or state.last_heartbeat_at is None:
        return True
    now = now or timezone.now()
    return now - state.last_heartbeat_at >= dt.timedelta(seconds=state.interval_s * thresholds().missed_heartbeats)


def send_notifications(limit: int = 200) -> tuple[int, int]:
    """Send queued alert messages through apprise (outside any transaction); (sent, failed)."""
    import apprise

    sent = failed = 0
    pending = list(Notification.objects.filter(sent_at=None, attempts__lt=20).select_related("contact")
                   .order_by("id")[:limit])
    for n in pending:
        a = apprise.Apprise()
        ok = False
        error = ""
        if not a.add(n.contact.apprise_url):
            error = "apprise does not understand this URL"
        else:
            try:
                ok = bool(a.notify(title=n.title, body=n.body))
                error = "" if ok else "apprise reported a failure"
            except Exception as exc:  # a broken target must not stop the others
                error = f"{type(exc).__name__}: {exc}"
        if ok:
            Notification.objects.filter(pk=n.pk, sent_at=None).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1, last_error="")
            sent += 1
        else:
            Notification.objects.filter(pk=n.pk).update(attempts=F("attempts") + 1, last_error=error[:2000])
            log.error("fleet alert to %s not sent: %s", n.contact.name, error)
            failed += 1
    return sent, failed


# --------------------------------------------------------------------------------------------
# Staff accounts (the kiosk pulls them)


def staff_version() -> int:
    row = Counter.objects.filter(name="staff").values_list("value", flat=True).first()
    return int(row or 0)


def bump_staff_version() -> None:
    """Called in the transaction of any change to who may use a kiosk: kiosks pull on a new version."""
    if Counter.objects.filter(name="staff").update(value=F("value") + 1) == 0:
        Counter.objects.get_or_create(name="staff", defaults={"value": 1})


def normalise_badge(badge: str) -> str:
    return "".join(ch for ch in badge.upper() if ch in "0123456789ABCDEF")


@transaction.atomic
def set_badge(profile: Any, badge_uid: str) -> StaffCredential:
    badge = normalise_badge(badge_uid)
    if not contract.BADGE_RE.match(badge):
        raise ValueError("a badge UID is 4 to 32 hexadecimal digits")
    cred, _ = StaffCredential.objects.update_or_create(profile=profile, defaults={"badge_uid": badge,
                                                                                  "revoked_at": None})
    bump_staff_version()
    return cred


def pin_digest(pin: str, salt: bytes, kdf: str = PIN_KDF) -> bytes:
    _, n, r, p = kdf.split(":")
    return hashlib.scrypt(pin.encode(), salt=salt, n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024, dklen=32)


@transaction.atomic
def set_pin(profile: Any, pin: str) -> None:
    """The staff member's own new PIN: kept as a salted scrypt digest sealed with the field key."""
    if not (pin.isascii() and pin.isdigit() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS):
        raise ValueError(f"a PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")
    cred = StaffCredential.objects.select_for_update().filter(profile=profile).first()
    if cred is None:
        raise ValueError("ask an administrator to register your badge first")
    salt = secrets.token_bytes(16)
    cred.pin_kdf, cred.pin_salt, cred.pin_digest_sealed = PIN_KDF, salt, crypto.seal(pin_digest(pin, salt))
    cred.save()
    bump_staff_version()
    log.info("staff %s set a new PIN", profile.user.get_username())


@transaction.atomic
def revoke_badge(profile: Any) -> None:
    StaffCredential.objects.filter(profile=profile).update(revoked_at=timezone.now())
    bump_staff_version()
    log.warning("staff badge of %s revoked", profile.user.get_username())


def staff_snapshot(kiosk: Kiosk, have: int | None = None) -> contract.StaffAccountsSnapshot:
    from backoffice.accounts.models import Role

    with transaction.atomic():
        version = staff_version()
        if have is not None and have == version:
            return contract.StaffAccountsSnapshot(kiosk.kiosk_id, version, (), unchanged=True)
        creds = (StaffCredential.objects.filter(profile__kiosks=kiosk, profile__role=Role.KIOSK_STAFF,
                                                profile__user__is_active=True, revoked_at=None)
                 .exclude(pin_digest_sealed=None).select_related("profile__user").order_by("badge_uid"))
        entries = tuple(contract.StaffAccountEntry(
            badge_uid=c.badge_uid, name=(c.profile.user.get_full_name() or c.profile.user.get_username())[:60],
            pin_kdf=c.pin_kdf, pin_salt_b64=base64.b64encode(bytes(c.pin_salt)).decode(),
            pin_digest_b64=base64.b64encode(crypto.unseal(c.pin_digest_sealed) or b"").decode()) for c in creds)
    return contract.StaffAccountsSnapshot(kiosk.kiosk_id, version, entries)


# --------------------------------------------------------------------------------------------
# Service guide versions


def check_guide_text(text: str) -> str | None:
    """None when the kiosk's own loader accepts the guide, else every problem it names."""
    from flows.errors import GuideError
    from flows.guide import parse_guide

    try:
        parse_guide(tomllib.loads(text), "services.toml")
    except tomllib.TOMLDecodeError as exc:
        return f"services.toml is not valid TOML: {exc}"
    except GuideError as exc:
        return str(getattr(exc, "message", exc))
    return None


def ensure_first_guide() -> GuideVersionRecord:
    """The kiosk's own assets/guide/services.toml is version 1."""
    first = GuideVersionRecord.objects.filter(version=1).first()
    if first is not None:
        return first
    text = FIRST_GUIDE.read_text(encoding="utf-8")
    try:
        with transaction.atomic():
            return GuideVersionRecord.objects.create(version=1, services_toml=text, accepted=True,
                                                     sha256=hashlib.sha256(text.encode()).hexdigest(),
                                                     note="assets/guide (first version)", published_at=timezone.now())
    except IntegrityError:
        return GuideVersionRecord.objects.get(version=1)


def current_guide() -> GuideVersionRecord:
    rec = GuideVersionRecord.objects.filter(accepted=True).exclude(published_at=None).order_by("-published_at",
                                                                                                 "-version").first()
    return rec or ensure_first_guide()


@transaction.atomic
def upload_guide(text: str, user: Any, note: str = "") -> GuideVersionRecord:
    """A new version, checked by the kiosk's loader; a bad one is kept with its reason, never published."""
    ensure_first_guide()
    last = GuideVersionRecord.objects.select_for_update().order_by("-version").first()
    reason = check_guide_text(text) if len(text.encode()) <= contract.MAX_GUIDE_BYTES else "the guide is too large"
    rec = GuideVersionRecord.objects.create(version=(last.version if last else 0) + 1, services_toml=text,
                                            sha256=hashlib.sha256(text.encode()).hexdigest(), note=note[:200],
                                            uploaded_by=user.get_username(), accepted=reason is None,
                                            reason=reason or "")
    (log.info if reason is None else log.warning)("guide version %d uploaded by %s: %s", rec.version,
                                                  user.get_username(), "accepted" if reason is None else reason)
    return rec


@transaction.atomic
def publish_guide(rec: GuideVersionRecord) -> None:
    if not rec.accepted:
        raise ValueError(f"version {rec.version} was refused: {rec.reason}")
    rec.published_at = timezone.now()
    rec.save(update_fields=["published_at"])


def guide_for(have: int | None) -> contract.GuideVersion:
    rec = current_guide()
    if have == rec.version:
        return contract.GuideVersion(rec.version, "", rec.sha256, unchanged=True)
    return contract.GuideVersion(rec.version, rec.services_toml, rec.sha256)


# --------------------------------------------------------------------------------------------
# Results to place


def _results_query(kiosk: Kiosk) -> Any:
    from backoffice.cases.models import Case, Channel, State

    return Case.objects.filter(kiosk=kiosk, state__in=(State.APPROVED, State.REJECTED, State.MORE_PAPERS),
                               result_channel__in=("", Channel.LOCKER), placement__isnull=True)


def results_for(kiosk: Kiosk) -> contract.ResultsToPlace:
    cases = _results_query(kiosk).order_by("updated_at")[:500]
    return contract.ResultsToPlace(kiosk.kiosk_id, tuple(
        contract.ResultToPlace(c.case_code, c.service_name_zh, c.service_name_en, c.name_masked, c.state,
                               c.updated_at.timestamp()) for c in cases))


def record_placement(kiosk: Kiosk, placed: contract.ResultPlaced, *, clock_skew_s: float) -> ResultPlacement:
    from backoffice.cases.models import Case

    with transaction.atomic():
        case = Case.objects.filter(case_code=placed.case_code, kiosk=kiosk).first()
        if case is None:
            raise contract.ContractError("case.unknown", f"case {placed.case_code} is not a case of this kiosk",
                                         status=404)
        rec, created = ResultPlacement.objects.get_or_create(
            case=case, defaults={"kiosk": kiosk, "compartment_id": placed.compartment_id, "actor": placed.actor,
                                 "placed_at": _at(placed.placed_at, clock_skew_s)})
    if created:
        log.info("result of case %s placed in %s at kiosk %s", case.case_code, placed.compartment_id, kiosk.kiosk_id)
    return rec
