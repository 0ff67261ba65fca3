"""What kiosks pull from the back office on PostgreSQL, over real HTTP: staff accounts (a PIN set
in the back office works on every kiosk the person serves, a change or revocation is in force
after one poll, the last copy holds when the back office is down), guide versions switched whole
or refused with the reason shown, and results to place with their placement reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from backoffice_support import PASSWORD, Town, deliver, package
from fleet_support import FleetKiosk, fleet_kiosk

import contract
from backoffice.fleet import actions
from backoffice.fleet.models import GuideVersionRecord, ResultPlacement, StaffCredential
from flows.guide import DEFAULT_GUIDE_PATH
from kiosk.config import BackofficeConfig
from kiosk.sync.pull import Puller, current_guide
from locker.staff import BadgeLocked, StaffAccounts, UnknownBadge, WrongPin

BADGE = "04A1B2C3D4"


def puller_for(k: FleetKiosk, root: Path, url: str) -> Puller:
    cfg = BackofficeConfig(enabled=True, url=url, pull_interval_s=30, timeout_s=5)
    return Puller(k.store, cfg, credential_file=k.sender.credential_file, simulator=True, guide_dir=root / "guide")


@pytest.fixture
def two_kiosks(live_town: Town, live_server, tmp_path: Path) -> Iterator[list[tuple[FleetKiosk, Puller]]]:
    """The centre and the village kiosk, both served by the "staff" user."""
    live_town.users["staff"].profile.kiosks.add(live_town.kiosk)
    with ExitStack() as stack:
        out = []
        for kid, token in (("qidu-centre", live_town.token), ("qidu-kaixiangong", live_town.village_token)):
            k = stack.enter_context(fleet_kiosk(tmp_path / kid, live_server.url, kid, token))
            out.append((k, puller_for(k, tmp_path / kid, live_server.url)))
        yield out


def set_own_pin(client, pin: str) -> None:  # type: ignore[no-untyped-def]
    """The staff member sets their PIN on the back office's page, as they would in a browser."""
    assert client.login(username="staff", password=PASSWORD)
    r = client.post("/fleet/me/pin", {"pin": pin, "again": pin})
    assert r.status_code == 302, r.content.decode()[:500]


def test_pin_set_in_the_back_office_works_on_every_kiosk_then_change_and_revocation_follow_in_one_poll(
        two_kiosks, live_town: Town, client) -> None:  # type: ignore[no-untyped-def]
    actions.set_badge(live_town.users["staff"].profile, BADGE)
    set_own_pin(client, "246810")
    cred = StaffCredential.objects.get(badge_uid=BADGE)
    assert b"246810" not in bytes(cred.pin_digest_sealed) and b"246810" not in bytes(cred.pin_salt)
    wire = client.get("/api/v1/fleet/staff", HTTP_AUTHORIZATION=f"Bearer {live_town.token}",
                      HTTP_X_KIOSK_TIME=str(time.time())).content
    assert b"246810" not in wire and BADGE.encode() in wire  # only the salted digest travels
    for k, p in two_kiosks:
        assert p.run_once() == "ok"
        accounts = StaffAccounts(k.store.db, k.store.audit, cipher=k.store.cipher)
        assert accounts.verify(BADGE, "246810").badge_uid == BADGE
        with pytest.raises(WrongPin):
            accounts.verify(BADGE, "135790")
        stored = k.store.db.query_one("SELECT pin_kdf, pin_hash FROM staff WHERE badge_uid = ?", (BADGE,))
        assert stored["pin_kdf"].endswith("+aead")  # peppered with this kiosk's own data key
    hashes = [bytes(k.store.db.query_one("SELECT pin_hash FROM staff")["pin_hash"]) for k, _ in two_kiosks]
    assert hashes[0] != hashes[1]

    set_own_pin(client, "112233")  # a PIN change: one poll later, the old PIN is refused everywhere
    for k, p in two_kiosks:
        p.run_once()
        accounts = StaffAccounts(k.store.db, k.store.audit, cipher=k.store.cipher)
        with pytest.raises(WrongPin):
            accounts.verify(BADGE, "246810")
        assert accounts.verify(BADGE, "112233")

    actions.revoke_badge(live_town.users["staff"].profile)  # revoked: one poll later, refused everywhere
    for k, p in two_kiosks:
        p.run_once()
        with pytest.raises(UnknownBadge):
            StaffAccounts(k.store.db, k.store.audit, cipher=k.store.cipher).verify(BADGE, "112233")
        assert any(r["action"] == "staff.sync" for r in k.store.audit.rows())


def test_removed_from_a_kiosk_only_that_kiosk_refuses_and_a_down_back_office_keeps_the_last_copy(
        two_kiosks, live_town: Town, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    actions.set_badge(live_town.users["staff"].profile, BADGE)
    set_own_pin(client, "246810")
    for _, p in two_kiosks:
        p.run_once()
    live_town.users["staff"].profile.kiosks.remove(live_town.kiosk)  # no longer serves the centre
    (centre, pc), (village, pv) = two_kiosks
    pc.run_once()
    pv.run_once()
    with pytest.raises(UnknownBadge):
        StaffAccounts(centre.store.db, cipher=centre.store.cipher).verify(BADGE, "246810")
    assert StaffAccounts(village.store.db, cipher=village.store.cipher).verify(BADGE, "246810")

    dead = Puller(village.store, BackofficeConfig(enabled=True, url="http://127.0.0.1:9", timeout_s=2),
                  credential_file=village.sender.credential_file, simulator=True, guide_dir=tmp_path / "g")
    assert dead.run_once().startswith("kept last copy")
    assert StaffAccounts(village.store.db, cipher=village.store.cipher).verify(BADGE, "246810")


def test_a_locked_badge_is_unlocked_by_a_new_pin_from_the_back_office(two_kiosks, live_town: Town, client) -> None:  # type: ignore[no-untyped-def]
    actions.set_badge(live_town.users["staff"].profile, BADGE)
    set_own_pin(client, "246810")
    k, p = two_kiosks[1]
    p.run_once()
    accounts = StaffAccounts(k.store.db, cipher=k.store.cipher)
    for _ in range(5):
        with pytest.raises((WrongPin, BadgeLocked)):
            accounts.verify(BADGE, "000000")
    with pytest.raises(BadgeLocked):
        accounts.verify(BADGE, "246810")
    set_own_pin(client, "778899")
    p.run_once()
    assert accounts.verify(BADGE, "778899")


def _guide_text(days: int) -> str:
    text = DEFAULT_GUIDE_PATH.read_text(encoding="utf-8")
    return text.replace("days = 20", f"days = {days}", 1)


def test_guide_versions_switch_whole_and_a_bad_one_is_refused_with_its_reason(
        two_kiosks, live_town: Town, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert client.login(username="super", password=PASSWORD)
    bad = DEFAULT_GUIDE_PATH.read_text(encoding="utf-8").replace("deferrable = true }", "deferrable = 'maybe' }", 1)
    r = client.post("/fleet/guide/", {"services_toml": SimpleUploadedFile("services.toml", bad.encode()),
                                      "note": "typo"}, follow=True)
    page = r.content.decode()
    refusal = page.split('<span class="reason">', 1)[1].split("</span>", 1)[0]
    assert "deferrable" in refusal  # the reason, naming the field, next to the refused version
    assert actions.current_guide().version == 1

    r = client.post("/fleet/guide/", {"services_toml": SimpleUploadedFile("services.toml", _guide_text(25).encode()),
                                      "note": "rebuild takes 25 days"}, follow=True)
    good = GuideVersionRecord.objects.get(note="rebuild takes 25 days")
    assert good.accepted and good.published_at is None
    (k, p) = two_kiosks[0]
    p.run_once()
    assert p.guide_version == 1  # accepted but not published: nothing moves
    client.post(f"/fleet/guide/{good.version}/publish")
    switched = []
    p.on_guide = lambda guide, v: switched.append((guide, v)) or True
    p.run_once()
    assert p.guide_version == good.version and switched[0][1] == good.version
    assert switched[0][0].get("rural_house_rebuild").processing_days == 25
    guide, version = current_guide(tmp_path / "qidu-centre" / "guide", DEFAULT_GUIDE_PATH)
    assert version == good.version and guide.get("rural_house_rebuild").processing_days == 25

    # A version the back office's checker let through but this kiosk's loader refuses (say an older
    # back office): the kiosk keeps its guide, and the reason reaches the back office's guide page.
    broken = GuideVersionRecord.objects.create(version=good.version + 1, services_toml="version = 1\n[categories]\n",
                                               sha256=__import__("hashlib").sha256(b"version = 1\n[categories]\n")
                                               .hexdigest(), accepted=True)
    actions.publish_guide(broken)
    p.run_once()
    assert p.guide_version == good.version
    assert str(broken.version) in p.versions()["guide_refused"]
    k.sender.facts.versions = p.versions
    k.beat()
    page = client.get("/fleet/guide/").content.decode()
    kiosk_row = page.split('data-kiosk="qidu-centre"', 1)[1].split("</tr>", 1)[0]
    assert f"v{broken.version}:" in kiosk_row and "categories" in kiosk_row
    p.run_once()  # not tried again and again
    assert p.guide_version == good.version


def test_results_to_place_are_listed_for_their_kiosk_and_placing_one_reports_where_and_when(
        two_kiosks, live_town: Town, client) -> None:  # type: ignore[no-untyped-def]
    from backoffice.cases import actions as case_actions
    from backoffice.cases.models import Case

    deliver(client, live_town.token, package("RRRR2345", files={}))
    c = Case.objects.get(case_code="RRRR2345")
    clerk = live_town.users["clerk"]
    for step in ("collect", "process", "approve"):
        c = case_actions.take_step(c, clerk, step)
    k, p = two_kiosks[0]
    local = [{"case_code": "RRRR2345", "service_id": "hukou", "name_masked": "欧***"},
             {"case_code": "WAIT2345", "service_id": "hukou", "name_masked": "张*"}]
    assert p.staff_results_due(local) == local  # never pulled: the kiosk's own list stands
    p.run_once()
    assert [r.case_code for r in p.results()] == ["RRRR2345"]
    shown = p.staff_results_due(local)  # the staff screen: only what the back office says is ready
    assert [(r["case_code"], r["backoffice"]) for r in shown] == [("RRRR2345", "approved")]
    assert p.results()[0].resident_masked != package()["identity"]["name"]
    _, pv = two_kiosks[1]
    pv.run_once()
    assert pv.results() == []  # the village kiosk has nothing to place
    p.report_placed("RRRR2345", "B02", "staff:04****D4")
    placed = ResultPlacement.objects.get(case__case_code="RRRR2345")
    assert placed.compartment_id == "B02" and abs(placed.placed_at.timestamp() - time.time()) < 120
    p.run_once()
    assert p.results() == []
    assert contract.ResultsToPlace.from_json(client.get(
        "/api/v1/fleet/results", HTTP_AUTHORIZATION=f"Bearer {live_town.token}",
        HTTP_X_KIOSK_TIME=str(time.time())).json()).results == ()


def test_a_result_placed_through_the_kiosk_flow_is_recorded_with_its_compartment(
        two_kiosks, live_town: Town, client) -> None:  # type: ignore[no-untyped-def]
    from backoffice_support import kiosk_headers

    from backoffice.cases import actions as case_actions
    from backoffice.cases.models import Case

    deliver(client, live_town.token, package("PPPP2345", files={}))
    c = Case.objects.get(case_code="PPPP2345")
    for step in ("collect", "process", "approve"):
        c = case_actions.take_step(c, live_town.users["clerk"], step)
    ev = contract.KioskEvent("placed-1", "PPPP2345", "result_placed", time.time(), "staff:04****D4", "C02")
    r = client.post("/api/v1/events", contract.dumps(contract.EventBatch("qidu-centre", time.time(), (ev,))),
                    content_type="application/json", **kiosk_headers(live_town.token))
    assert r.status_code == 200, r.content
    k, _ = two_kiosks[0]
    k.beat()
    placed = ResultPlacement.objects.get(case__case_code="PPPP2345")
    assert placed.compartment_id == "C02" and placed.actor == "staff:04****D4"
