"""What the kiosk says aloud for a View: the prompt, codes digit by digit, never the pickup code.

Why a separate text and not the screen's: the pickup code is for the resident alone (the receipt
says so), and a voice carries across a room at night. A screen text like "取件码 284615，请记好"
is therefore spoken as "取件码请看屏幕，请记好". Codes that may be heard (a compartment, a case
code, a phone number) are read one digit at a time — "A 零 七", not "A 七" or "二十八万…" — which
is how people repeat numbers to each other on the phone. Counts (5 days) stay numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

#: params that are never spoken, whatever the message's text does with them
NEVER_SPOKEN = ("pickup_code", "pin", "code")
ZH_DIGITS = "零一二三四五六七八九"
_RUN = re.compile(r"\d+")

Translate = Callable[..., str]


def digit_by_digit(text: str, language: str) -> str:
    """Every digit on its own ("A07" → "A 零 七" / "A 0 7"), so espeak-ng never reads a number."""

    def spell(match: re.Match[str]) -> str:
        digits = match.group(0)
        words = [ZH_DIGITS[int(d)] if language == "zh" else d for d in digits]
        return " " + " ".join(words) + " "

    return re.sub(r"\s+", " ", _RUN.sub(spell, text)).strip()


def _spoken_param(key: str, value: Any, language: str, hidden: str) -> Any:
    if key in NEVER_SPOKEN:
        return hidden
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value  # a count ("5 days") is said as a number
    if isinstance(value, str):
        return digit_by_digit(value, language)
    return value


def spoken_text(tr: Translate, message: str, params: Mapping[str, Any], language: str) -> str:
    """The prompt to speak for ``message``: ``speech.<message>`` when the catalogue has a spoken
    version, else the screen text; secret params replaced, codes spelled out, and — whatever a
    translation does — no secret's digits left in the result."""
    if not message:
        return ""
    hidden = tr("speech.on_screen")
    safe = {k: _spoken_param(k, v, language, hidden) for k, v in params.items()}
    key = f"speech.{message}"
    text = tr(key, **safe)
    if text == key:
        text = tr(message, **safe)
    text = digit_by_digit(text, language)
    for secret in (str(params.get(k) or "") for k in NEVER_SPOKEN):
        if len(secret) >= 4 and secret.isdigit():
            for form in (secret, digit_by_digit(secret, "zh"), digit_by_digit(secret, "en")):
                text = text.replace(form, hidden)
    return text
