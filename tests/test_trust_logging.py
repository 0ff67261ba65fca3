"""Issue 12, logs: one logging set-up (journald priorities, no doubled Kivy lines, -v works) and no
personal data in the log of whole deposits, pickups and door entries run at DEBUG."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flow_support import (
    STAFF_BADGE,
    STAFF_PIN,
    Resident,
    Rig,
    deposit_to_receipt,
    place_result,
    press,
    wait_step,
    wait_until,
)

from devices.idcard.sample_cards import LI_SI, ZHANG_SAN
from devices.relay import LcusRelay, RelaySimulator
from flows.door_entry import AfterHoursSchedule, DoorEntry
from flows.machine import ENDED
from flows.results import ResultPickupFlow

ROOT = Path(__file__).resolve().parents[1]
DOOR_CARD = "04C0FFEE12"
PHONE = re.compile(r"(?<![\w.])1[3-9]\d{9}(?![\w.])")  # not inside hex, floats or codes

SCRIPT = """
import logging, os, sys
from kiosk.logsetup import setup_logging
setup_logging("-v" in sys.argv)
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.logger import Logger  # the import that used to add a second console handler
import kivy.app  # noqa: F401
log = logging.getLogger("kiosk.probe")
log.debug("probe debug line")
log.info("probe info line")
log.warning("probe warning line")
log.error("probe error line")
Logger.warning("Probe: kivy warning line")
Logger.info("Probe: kivy info line")
"""


def run_probe(tmp_path: Path, *args: str, journal: bool) -> str:
    """Run the set-up + Kivy import in a fresh interpreter, stderr to a file (the journal stream)."""
    err = tmp_path / "stderr.txt"
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "SDL_VIDEODRIVER": "offscreen"}
    env.pop("KIOSK_LOG_LEVEL", None)
    env.pop("JOURNAL_STREAM", None)
    with err.open("wb") as f:
        if journal:
            st = os.fstat(f.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-c", SCRIPT, *args], stderr=f, stdout=subprocess.DEVNULL, env=env,
                       cwd=ROOT, check=True, timeout=120)
    return err.read_text()


def test_under_journald_lines_carry_priorities_once_each_and_info_stays_out(tmp_path: Path) -> None:
    text = run_probe(tmp_path, journal=True)
    lines = text.splitlines()
    assert lines.count("<4>kiosk.probe: probe warning line") == 1, text
    assert lines.count("<3>kiosk.probe: probe error line") == 1, text
    assert lines.count("<4>kivy: Probe: kivy warning line") == 1, text
    # `journalctl -p warning` shows <0>..<4>: nothing below warning was written at all by default
    assert "info line" not in text and "debug line" not in text and "[INFO" not in text, text
    assert all(re.match(r"<[0-7]>", line) for line in lines), text


def test_verbose_flag_lets_debug_through_and_a_terminal_gets_time_stamps(tmp_path: Path) -> None:
    text = run_probe(tmp_path, "-v", journal=False)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ DEBUG kiosk\.probe: probe debug line$", text, re.M), text
    assert text.count("probe warning line") == 1 and text.count("kivy warning line") == 1, text
    assert "<4>" not in text


def test_kiosk_command_uses_the_setup(tmp_path: Path) -> None:
    """`kiosk -v` really reaches DEBUG, and without it nothing below WARNING is written."""
    from runtime_support import write_config

    cfg = write_config(tmp_path, pcsc=False)
    env = {**os.environ}
    env.pop("JOURNAL_STREAM", None)
    cmd = [sys.executable, "-m", "kiosk.cli", "--config", str(cfg), "config", "check"]
    quiet = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    loud = subprocess.run([*cmd[:3], "-v", *cmd[3:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert " DEBUG " not in quiet.stderr
    assert " DEBUG " in loud.stderr, loud.stderr


def secrets_in(text: str, secrets: dict[str, str]) -> list[str]:
    found = [what for what, value in secrets.items() if value and value in text]
    found += [f"phone number {m}" for m in PHONE.findall(text)]
    return found


def test_whole_deposit_pickup_and_door_entry_at_debug_leak_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A deposit with a card swap attempt first: 李四's card is read, then 张三 deposits.
    flow = rig.deposit()
    press(flow, "start")
    rig.idsim.ctl_insert("li_si")
    wait_until(lambda: flow.state == "identity", 15, "identity confirmation")
    press(flow, "not_me")
    wait_until(lambda: flow.state == ENDED or not flow.active, 15, "deposit stopped")
    rig.idsim.ctl_remove()
    flow = rig.deposit()
    compartment = deposit_to_receipt(rig, flow)
    case_code, pickup = flow.view.params["case_code"], flow.view.params["pickup_code"]
    press(flow, "done")
    rig.fpsim.ctl_lift()
    rig.idsim.ctl_remove()

    # Staff: an unknown badge, then the real one; collect, and put the result back.
    staff = rig.staff()
    staff.badge_tapped("DEADBEEF99")
    press(staff, "pin", pin="000000")
    press(staff, "ok")
    staff.badge_tapped(STAFF_BADGE)
    press(staff, "pin", pin=STAFF_PIN)
    wait_step(staff, "pickups")
    press(staff, "open", case_code=case_code)
    wait_step(staff, "pickups")
    Resident(rig).close_door(compartment)
    wait_until(lambda: compartment not in [c.id for c in rig.lockers.holding()], 5, "compartment emptied")
    press(staff, "collected", case_code=case_code)
    place_result(rig, staff, case_code)
    press(staff, "done")

    # The resident fetches the result with the pickup code (one wrong code first) and the finger.
    results = ResultPickupFlow(reader=rig.reader, face_frames=rig.face_frames, fingerprint=rig.sensor,
                               lockers=rig.lockers, submissions=rig.store.submissions, sessions=rig.sessions,
                               finger_timeout=5.0)
    rig.flows.append(results)
    press(results, "start")
    press(results, "code")
    rig.fpsim.ctl_place(finger="zhang-right-index")
    press(results, "code", code="000000" if pickup != "000000" else "111111")
    wait_until(lambda: results.view.message == "results.code_unknown" and not results.view.busy, 10, "code refused")
    press(results, "code", code=pickup)
    wait_until(lambda: rig.open_doors() == [[0, 2]], 10, "result compartment open")
    Resident(rig).close_door("M01")
    wait_until(lambda: results.state == ENDED, 10, "pickup finished")

    # Door entries after hours: one opened, one refused.
    with RelaySimulator(pacing=False) as sim:
        relay = LcusRelay(sim.port, timeout=0.5)
        relay.open()
        try:
            door = DoorEntry(relay, rig.store.audit, AfterHoursSchedule(["mon-sun 00:00-24:00"]),
                             deny=["04BADBAD01"], open_seconds=0.2, now=lambda: dt.datetime(2026, 11, 20, 22, 0))
            door.card_tapped(DOOR_CARD)
            door.card_tapped("04BADBAD01")
        finally:
            relay.release()
            relay.close()

    assert any(r.levelno == logging.DEBUG for r in caplog.records), "the run was not logged at DEBUG"
    text = caplog.text + "\n".join(str(r.exc_info) for r in caplog.records if r.exc_info)
    secrets = {
        "张三's name": ZHANG_SAN.name,
        "张三's ID number": ZHANG_SAN.id_number,
        "张三's address": ZHANG_SAN.address,
        "李四's name": LI_SI.name,
        "李四's ID number": LI_SI.id_number,
        "pickup code": pickup,
        "staff badge UID": STAFF_BADGE,
        "unknown badge UID": "DEADBEEF99",
        "door card UID": DOOR_CARD,
        "denied door card UID": "04BADBAD01",
        "staff PIN": STAFF_PIN,
    }
    assert not secrets_in(text, secrets), secrets_in(text, secrets)
    # the same holds for what the audit log and the alert outbox keep
    stored = str(rig.store.audit.rows()) + str(rig.outbox.items())
    assert not secrets_in(stored, secrets), secrets_in(stored, secrets)


@pytest.mark.pcsc
def test_a_badge_on_the_pcsc_reader_is_logged_masked(caplog: pytest.LogCaptureFixture) -> None:
    """pcscd + vpcd: the reader's 'card …' line and the virtual card's own line carry no full UID."""
    import contextlib

    from pcsc_support import BADGE_READER, PCSCD, PCSCD_STACK, SKIP_REASON

    if PCSCD is None:
        pytest.skip(SKIP_REASON)
    from devices.pcsc import CardWatcher, PcscError, PcscReader, VirtualCardSimulator

    caplog.set_level(logging.DEBUG)
    PCSCD_STACK.ensure()
    uids: list[str] = []
    watcher = CardWatcher(PcscReader(BADGE_READER, device="staff_reader"), uids.append)
    card = VirtualCardSimulator(port=35963)
    watcher.start()
    try:
        card.ctl_tap(uid="04A1B2C3D4E5F6")
        wait_until(lambda: uids, 10, "badge read")
    finally:
        card.stop()
        watcher.stop()
        with contextlib.suppress(PcscError):
            PcscReader(BADGE_READER).wait_removed(timeout=5)
    assert uids == ["04A1B2C3D4E5F6"]  # the kiosk itself still gets the whole UID
    assert "04A1B2C3D4E5F6" not in caplog.text and "04**********F6" in caplog.text, caplog.text


def test_alert_bodies_leave_the_kiosk_with_uids_and_id_numbers_masked(tmp_path: Path) -> None:
    from locker.db import Database
    from locker.outbox import Outbox

    db = Database(tmp_path / "k.sqlite3")
    outbox = Outbox(db, ["json://127.0.0.1:9/alerts"])
    outbox.enqueue("override", "Override by staff:04A1B2C3",
                   "Compartment A01 opened by staff:04A1B2C3; badge 04A1B2C3D4 locked; card 0455AA77 refused; "
                   f"resident {ZHANG_SAN.id_number}; case TX959TYV")
    row = db.query_one("SELECT title, body FROM outbox")
    text = row["title"] + row["body"]
    for secret in ("04A1B2C3", "04A1B2C3D4", "0455AA77", ZHANG_SAN.id_number):
        assert secret not in text, text
    assert "staff:04****C3" in text and "case TX959TYV" in text  # still tells staff what happened
    db.close()
