"""Every message key and button the flows can publish has Chinese and English text.

A missing key would show as "face.hint.blink" on the screen of an elderly resident; the Translator
falls back to the key rather than crash, so only this test notices.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow_keys  # noqa: E402

from kiosk.i18n import Translator  # noqa: E402


def test_the_collector_finds_the_flows_messages() -> None:
    keys = flow_keys.all_keys()
    # one of each source: a literal, an enum value, an error code, an action
    assert {"door.put_papers_in", "face.hint.blink", "staff.wrong_pin", "action.choose"} <= keys
    assert len(keys) > 100


def test_every_flow_key_has_chinese_and_english_text() -> None:
    tr = Translator()
    missing = {
        lang: sorted(k for k in flow_keys.all_keys() if k not in tr.tables[lang]) for lang in ("zh", "en")
    }
    assert missing == {"zh": [], "en": []}


def test_placeholders_match_between_languages() -> None:
    import re

    tr = Translator()
    field = re.compile(r"\{(\w+)\}")
    for key in flow_keys.all_keys():
        assert set(field.findall(tr.tables["zh"][key])) == set(field.findall(tr.tables["en"][key])), key


def test_the_collector_finds_the_staff_screens_keys() -> None:
    keys = flow_keys.all_keys()
    # locker-board refusals of a staff door action, the per-door failure line, maintenance mode,
    # its button, and the device names and statuses it lists
    assert {"locker.open_refused", "locker.port_lost", "staff.not_opened", "staff.not_opened_one"} <= keys
    assert {"maintenance.testing", "maintenance.test_failed", "action.maintenance", "action.test_devices"} <= keys
    assert {"status.offline", "status.hardware_error", "device.idcard", "device.staff_reader"} <= keys


def test_every_error_staff_can_meet_has_text() -> None:
    """Whatever a staff door action or device test raises is shown by a key with text in both languages."""
    import devices.camera  # noqa: F401 - every error class the staff flow could meet is loaded
    import devices.pcsc  # noqa: F401
    import devices.printer  # noqa: F401
    import flows.results  # noqa: F401
    import locker.service  # noqa: F401
    from devices.errors import KioskError
    from flows.staff_pickup import shown_key

    tr = Translator()
    codes = {c.code for c in flow_keys._subclasses(KioskError) if isinstance(getattr(c, "code", None), str)}
    assert "locker.open_refused" in codes and len(codes) > 50
    missing = sorted(
        f"{code} -> {shown_key(code)}"
        for code in codes
        for lang in ("zh", "en")
        if shown_key(code) not in tr.tables[lang]
    )
    assert missing == []
