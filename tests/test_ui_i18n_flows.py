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
