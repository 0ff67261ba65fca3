"""Heartbeats from a real kiosk store over real HTTP into the back office on PostgreSQL: what the
dashboard learns, an audit chain rewritten after a heartbeat flagged, and alerts raised once and
cleared once, with the messages on-duty staff receive through apprise."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_support import AlertReceiver
from backoffice_support import Town
from fleet_support import FleetKiosk, fleet_kiosk

import contract
from backoffice.fleet import actions
from backoffice.fleet.models import Alert, AuditHead, DeviceOutage, DutyContact, KioskState, Notification
from devices.status import DeviceStatus
from locker.audit import rechain


@pytest.fixture
def inbox() -> Iterator[AlertReceiver]:
    with AlertReceiver() as box:
        yield box


@pytest.fixture
def kiosk(live_town: Town, live_server, tmp_path: Path) -> Iterator[FleetKiosk]:  # type: ignore[no-untyped-def]
    with fleet_kiosk(tmp_path / "k", live_server.url, "qidu-centre", live_town.token) as k:
        yield k


def test_heartbeat_tells_the_back_office_how_the_kiosk_is(kiosk: FleetKiosk) -> None:
    kiosk.set_device("printer", DeviceStatus.OFFLINE, "paper out")
    kiosk.set_compartment("A02", "holding")
    kiosk.set_compartment("A03", "out_of_order")
    answer = kiosk.beat()
    state = KioskState.objects.get(kiosk__kiosk_id="qidu-centre")
    assert state.online and state.heartbeats == 1
    printer = next(d for d in state.devices if d["name"] == "printer")
    assert printer["status"] == "offline" and printer["detail"] == "paper out"
    assert state.compartments["free"] == 2 and state.compartments["occupied"] == 1
    assert state.compartments["out_of_order_ids"] == ["A03"]
    assert state.software_version and state.disk_total_bytes > state.disk_free_bytes > 0
    seq, h = kiosk.facts.audit_head()
    assert (state.audit_seq, state.audit_hash) == (seq, h)
    assert AuditHead.objects.get(kiosk__kiosk_id="qidu-centre", seq=seq).hash == h
    assert DeviceOutage.objects.get(device="printer", ended_at=None).detail == "paper out"
    assert answer.guide_version == 1
    kiosk.set_device("printer", DeviceStatus.ONLINE)
    kiosk.beat()
    assert DeviceOutage.objects.get(device="printer").ended_at is not None


def test_a_chain_rewritten_after_a_heartbeat_is_flagged_though_it_verifies_on_the_kiosk(kiosk: FleetKiosk) -> None:
    for i in range(5):
        kiosk.store.audit.append("staff:04****C3", "staff.login", detail={"n": i})
        kiosk.beat()  # each beat reports a new head; the answers ask about earlier ones
    assert AuditHead.objects.filter(kiosk__kiosk_id="qidu-centre").count() >= 5
    kiosk.beat()
    assert not KioskState.objects.get(kiosk__kiosk_id="qidu-centre").audit_flag
    # Someone with the disk and the key edits row 3 and re-chains every hash after it.
    db = kiosk.store.db
    with db.transaction() as conn:
        conn.execute("UPDATE audit_log SET detail = ? WHERE seq = 3", (json.dumps({"n": 99}),))
        rechain(db, conn, kiosk.store.audit.key)
    assert kiosk.store.audit.verify().ok  # no single-box audit can see it
    kiosk.store.audit.append("system", "kiosk.start", detail={})  # a new head the back office never saw
    kiosk.beat()  # the proofs answer the last challenge (which always names the previous head)
    state = KioskState.objects.get(kiosk__kiosk_id="qidu-centre")
    assert "another hash than the one reported" in state.audit_flag
    alert = Alert.objects.get(kind="audit_rewritten", cleared_at=None)
    assert "rewritten" in alert.message
    kiosk.beat()
    assert Alert.objects.filter(kind="audit_rewritten").count() == 1  # flagged once, not every beat


def test_a_kiosk_that_stops_answering_challenges_is_flagged(kiosk: FleetKiosk) -> None:
    for i in range(3):
        kiosk.store.audit.append("system", "x", detail={"n": i})
        kiosk.beat()
    kiosk.facts.proofs = lambda seqs: ()  # type: ignore[method-assign]  (a doctored kiosk hides its chain)
    for _ in range(3):
        kiosk.beat()
    assert "answered no audit challenge" in KioskState.objects.get(kiosk__kiosk_id="qidu-centre").audit_flag


def test_a_chain_cut_short_is_flagged(kiosk: FleetKiosk) -> None:
    for i in range(4):
        kiosk.store.audit.append("system", "x", detail={"n": i})
    kiosk.beat()
    db = kiosk.store.db
    with db.transaction() as conn:  # the log replaced by a shorter one (a restored old copy)
        conn.execute("DELETE FROM audit_log WHERE seq > 2")
    kiosk.beat()
    assert "cut or replaced" in KioskState.objects.get(kiosk__kiosk_id="qidu-centre").audit_flag


def test_alerts_are_raised_once_cleared_once_and_reach_on_duty_staff(kiosk: FleetKiosk, live_town: Town,
                                                                     inbox: AlertReceiver, settings) -> None:
    settings.FLEET = {"device_down_minutes": 0.0}
    DutyContact.objects.create(town=live_town.town, name="值班 王", apprise_url=inbox.url, on_duty=True)
    DutyContact.objects.create(town=live_town.town, name="休息 李", apprise_url=inbox.url, on_duty=False)
    kiosk.set_device("printer", DeviceStatus.HARDWARE_ERROR, "cutter jam")
    for _ in range(6):  # a printer down through six heartbeats: one alert
        kiosk.beat()
    assert Alert.objects.filter(kind="device_down", key="printer").count() == 1
    assert actions.send_notifications() == (1, 0)
    assert actions.send_notifications() == (0, 0)
    kiosk.set_device("printer", DeviceStatus.ONLINE)
    kiosk.beat()
    kiosk.beat()
    assert Alert.objects.get(kind="device_down", key="printer").cleared_at is not None
    assert actions.send_notifications() == (1, 0)
    titles = inbox.titles()
    assert len(titles) == 2 and titles[0].startswith("⚠") and titles[1].startswith("✓")
    assert "cutter jam" in inbox.received[0]["message"]

    # Silence: the periodic check marks it offline once, however often it runs.
    state = KioskState.objects.get(kiosk__kiosk_id="qidu-centre")
    KioskState.objects.filter(pk=state.pk).update(last_heartbeat_at=state.last_heartbeat_at - dt.timedelta(seconds=91))
    assert actions.check_fleet() == ["qidu-centre"]
    assert actions.check_fleet() == []
    assert Alert.objects.filter(kind="offline").count() == 1
    kiosk.beat()  # back
    offline = Alert.objects.get(kind="offline")
    assert offline.cleared_at is not None and offline.cleared_by == "came back"
    actions.send_notifications()
    assert len(inbox.received) == 4 and Notification.objects.filter(sent_at=None).count() == 0


def test_compartments_originals_outbox_and_doors_become_alerts(kiosk: FleetKiosk, client, live_town: Town,
                                                               settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEET = {"originals_hours": 12, "outbox_stuck_minutes": 30}
    for cid in ("A01", "A02", "A03", "A04"):
        kiosk.set_compartment(cid, "holding")
    kiosk.beat()
    assert Alert.objects.filter(kind="compartments_out", cleared_at=None).count() == 1
    kiosk.set_compartment("A04", "free")
    kiosk.beat()
    assert Alert.objects.get(kind="compartments_out").cleared_at is not None

    # A jam reported as a kiosk event: raised, and cleared when the compartment is back in service.
    kiosk.set_compartment("A02", "out_of_order")
    batch = contract.EventBatch("qidu-centre", 1.0, (contract.KioskEvent("door-1", None, "door_jammed",
                                                                         1.7e9, "kiosk", "A02"),))
    from backoffice_support import kiosk_headers

    r = client.post("/api/v1/events", contract.dumps(batch), content_type="application/json",
                    **kiosk_headers(live_town.token))
    assert r.status_code == 200, r.content
    kiosk.beat()
    kiosk.beat()
    assert Alert.objects.filter(kind="door_jammed", key="A02", cleared_at=None).count() == 1
    kiosk.set_compartment("A02", "free")
    kiosk.beat()
    assert Alert.objects.get(kind="door_jammed").cleared_at is not None

    # Originals waiting 13 h and a case undelivered for an hour (the kiosk's own clock, as sent).
    import time

    now = time.time()
    hb = kiosk.facts.heartbeat([])
    late = contract.Heartbeat(**{**hb.__dict__, "originals_waiting": 2, "oldest_original_at": now - 13 * 3600,
                                 "outbox_depth": 1, "oldest_undelivered_at": now - 3600,
                                 "outbox_last_error": "unreachable"})
    from backoffice.kiosks.models import Kiosk

    k = Kiosk.objects.get(kiosk_id="qidu-centre")
    actions.receive_heartbeat(k, late, clock_skew_s=0.0)
    actions.receive_heartbeat(k, late, clock_skew_s=0.0)
    assert Alert.objects.filter(kind="originals_waiting", cleared_at=None).count() == 1
    assert Alert.objects.filter(kind="outbox_stuck", cleared_at=None).count() == 1
    kiosk.beat()  # collected and delivered
    assert not Alert.objects.filter(kind__in=("originals_waiting", "outbox_stuck"), cleared_at=None).exists()


def test_in_a_storm_uploads_beyond_the_limit_are_told_to_come_back_and_heartbeats_still_pass(
        client, town: Town) -> None:  # type: ignore[no-untyped-def]
    from backoffice_support import kiosk_headers, package

    from backoffice.fleet import middleware

    assert middleware.SLOTS is not None
    held = 0
    while middleware.SLOTS.acquire(blocking=False):  # every upload slot of this process taken
        held += 1
    try:
        assert held == middleware.LIMIT
        r = client.put("/api/v1/cases/C3MRU76E", json.dumps(package()), content_type="application/json",
                       **kiosk_headers(town.token))
        assert r.status_code == 503 and r["Retry-After"] == "5"
        assert r.json()["error"]["code"] == "backoffice.busy"
        hb = contract.Heartbeat("qidu-centre", 1.7e9, 30, "0.2.0", 1, 2, (), contract.CompartmentCounts(1, 0, 0, 1),
                                0, None, 0, None, None, 1, "ab" * 32)
        r = client.post("/api/v1/fleet/heartbeat", contract.dumps(hb), content_type="application/json",
                        **kiosk_headers(town.token))
        assert r.status_code == 200, r.content
    finally:
        for _ in range(held):
            middleware.SLOTS.release()
    r = client.put("/api/v1/cases/C3MRU76E", json.dumps(package()), content_type="application/json",
                   **kiosk_headers(town.token))
    assert r.status_code == 201



def test_the_periodic_check_command_marks_a_silent_kiosk_offline_once(kiosk: FleetKiosk) -> None:
    import io

    from django.core.management import call_command

    kiosk.beat()
    KioskState.objects.filter(kiosk__kiosk_id="qidu-centre").update(
        last_heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=200))
    out = io.StringIO()
    call_command("fleet_check", stdout=out)
    assert "offline: qidu-centre" in out.getvalue()
    out = io.StringIO()
    call_command("fleet_check", stdout=out)
    assert "offline: none" in out.getvalue()
    assert Alert.objects.filter(kind="offline", cleared_at=None).count() == 1


def test_a_residents_call_for_help_is_an_open_help_request_until_acknowledged(
        kiosk: FleetKiosk, client, live_town: Town) -> None:  # type: ignore[no-untyped-def]
    """一键呼叫 at the kiosk: the back office shows an open help request (nothing personal) until a person
    answers it, and raises it once however often the resident presses."""
    from backoffice_support import kiosk_headers

    detail = {"flow": "deposit", "screen": "fingerprint", "step": "fingerprint", "visit_seconds": "95",
              "step_seconds": "40", "repeat": "False"}
    events = tuple(contract.KioskEvent(f"qidu-centre-{n}", None, "help_requested", 1.7e9 + n, "resident",
                                       None, detail) for n in (1, 2))
    r = client.post("/api/v1/events", contract.dumps(contract.EventBatch("qidu-centre", 1.0, events)),
                    content_type="application/json", **kiosk_headers(live_town.token))
    assert r.status_code == 200 and sorted(r.json()["accepted"]) == ["qidu-centre-1", "qidu-centre-2"]
    kiosk.beat()
    kiosk.beat()
    [help_] = Alert.objects.filter(kind="help_requested")
    assert help_.cleared_at is None and "step fingerprint" in help_.message and "40 s" in help_.message
    from django.contrib.auth import get_user_model

    actions.acknowledge(help_, get_user_model().objects.get(username="super"))
    help_.refresh_from_db()
    assert help_.cleared_at is not None and help_.cleared_by == "super"
