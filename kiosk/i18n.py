"""Translations: Simplified Chinese first, English by a button on every screen.

Flows publish message *keys* ("face.move_closer"); the UI turns them into text here. Missing keys
fall back to the other language and then to the key itself, so a new flow message shows up as its
key in testing instead of crashing a resident's session.

Elder mode says less: with ``elder`` set, a key with a shorter text under ``elder.<key>`` uses that
one ("是您本人吗？" instead of "请确认是否为本人"); every other key is unchanged.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

I18N_DIR = Path(__file__).resolve().parents[1] / "assets" / "i18n"
LANGUAGES = ("zh", "en")


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


class _SafeParams(dict):
    """Leaves unknown ``{placeholders}`` visible rather than raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """Looks up and formats texts for the current language."""

    def __init__(self, language: str = "zh", directory: Path = I18N_DIR) -> None:
        self.tables: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            path = directory / f"{lang}.toml"
            try:
                self.tables[lang] = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                log.error("cannot load translations %s: %s", path, exc)
                self.tables[lang] = {}
        self.language = language if language in LANGUAGES else "zh"
        self.elder = False

    def has(self, key: str) -> bool:
        return any(key in t for t in self.tables.values())

    def __call__(self, key: str, **params: Any) -> str:
        text = self.tables[self.language].get(f"elder.{key}") if self.elder else None
        if text is None:
            text = self.tables[self.language].get(key)
        if text is None:
            other = "en" if self.language == "zh" else "zh"
            text = self.tables[other].get(key, key)
        return text.format_map(_SafeParams(params)) if params else text

    def toggled(self) -> str:
        return "en" if self.language == "zh" else "zh"
