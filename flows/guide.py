"""The service guide (办事指南): which services the kiosk takes papers for, and which papers.

The data lives in ``assets/guide/services.toml`` so a service centre can change it without code.
It is checked completely when loaded — every problem is collected and reported at once with the
service and field named — because a wrong paper list found only when a resident is at the
kiosk means a rejected case days later.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import GuideError

DEFAULT_GUIDE_PATH = Path(__file__).resolve().parent.parent / "assets" / "guide" / "services.toml"
SUPPORTED_VERSION = 1
_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_SERVICE_KEYS = {"id", "category", "zh", "en", "days", "guide_zh", "guide_en", "papers"}
_PAPER_REF_KEYS = {"id", "deferrable"}
_TEXT_KEYS = {"zh", "en"}


@dataclass(frozen=True)
class Paper:
    """One paper of a service: which document, and whether it may be handed in later (容缺)."""

    id: str
    name_zh: str
    name_en: str
    deferrable: bool

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Service:
    id: str
    category: str
    name_zh: str
    name_en: str
    guide_zh: str
    guide_en: str
    processing_days: int
    papers: tuple[Paper, ...]

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.papers)

    def paper(self, paper_id: str) -> Paper:
        for p in self.papers:
            if p.id == paper_id:
                return p
        raise GuideError(f"service {self.id!r} has no paper {paper_id!r}")

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en

    def summary(self) -> dict[str, Any]:
        """What the guide screen shows for this service (both languages)."""
        return {
            "id": self.id,
            "category": self.category,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "guide_zh": self.guide_zh,
            "guide_en": self.guide_en,
            "days": self.processing_days,
            "papers": [
                {"id": p.id, "name_zh": p.name_zh, "name_en": p.name_en, "deferrable": p.deferrable}
                for p in self.papers
            ],
        }


@dataclass(frozen=True)
class ServiceGuide:
    categories: dict[str, Category]
    services: dict[str, Service]  # in file order
    source: str = ""

    def get(self, service_id: str) -> Service:
        try:
            return self.services[service_id]
        except KeyError:
            raise GuideError(f"the service guide has no service {service_id!r}") from None

    def by_category(self) -> dict[str, list[Service]]:
        out: dict[str, list[Service]] = {c: [] for c in self.categories}
        for s in self.services.values():
            out[s.category].append(s)
        return {c: v for c, v in out.items() if v}

    def summaries(self) -> list[dict[str, Any]]:
        return [s.summary() for s in self.services.values()]


def load_guide(path: str | Path = DEFAULT_GUIDE_PATH) -> ServiceGuide:
    """Read and check the guide file; GuideError lists every problem found."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GuideError(f"{p}: cannot read the service guide: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise GuideError(f"{p}: the service guide is not UTF-8: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise GuideError(f"{p}: not valid TOML: {exc}") from exc
    return parse_guide(data, str(p))


def parse_guide(data: dict[str, Any], where: str = "<guide>") -> ServiceGuide:
    problems: list[str] = []

    def text(table: dict[str, Any], key: str, at: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{at}: '{key}' must be a non-empty text")
            return ""
        return value.strip()

    version = data.get("version")
    if version != SUPPORTED_VERSION:
        problems.append(f"'version' must be {SUPPORTED_VERSION}, got {version!r}")
    unknown_top = set(data) - {"version", "categories", "papers", "service"}
    if unknown_top:
        problems.append(f"unknown top-level keys: {', '.join(sorted(unknown_top))}")

    categories: dict[str, Category] = {}
    for cid, table in _table(data, "categories", problems).items():
        at = f"categories.{cid}"
        if not _ID.match(cid):
            problems.append(f"{at}: ids are lower-case letters, digits and '_'")
        if not isinstance(table, dict):
            problems.append(f"{at}: expected a table with zh and en")
            continue
        _unknown(table, _TEXT_KEYS, at, problems)
        categories[cid] = Category(cid, text(table, "zh", at), text(table, "en", at))

    paper_names: dict[str, tuple[str, str]] = {}
    for pid, table in _table(data, "papers", problems).items():
        at = f"papers.{pid}"
        if not _ID.match(pid):
            problems.append(f"{at}: ids are lower-case letters, digits and '_'")
        if not isinstance(table, dict):
            problems.append(f"{at}: expected a table with zh and en")
            continue
        _unknown(table, _TEXT_KEYS, at, problems)
        paper_names[pid] = (text(table, "zh", at), text(table, "en", at))

    services: dict[str, Service] = {}
    raw_services = data.get("service", [])
    if not isinstance(raw_services, list) or not raw_services:
        problems.append("at least one [[service]] is needed")
        raw_services = []
    used_papers: set[str] = set()
    for i, table in enumerate(raw_services, 1):
        if not isinstance(table, dict):
            problems.append(f"service #{i}: expected a table")
            continue
        sid = table.get("id")
        at = f"service {sid!r}" if isinstance(sid, str) else f"service #{i}"
        if not isinstance(sid, str) or not _ID.match(sid):
            problems.append(f"{at}: 'id' must be lower-case letters, digits and '_'")
            sid = f"#{i}"
        elif sid in services:
            problems.append(f"{at}: the id is used twice")
        _unknown(table, _SERVICE_KEYS, at, problems)
        category = text(table, "category", at)
        if category and category not in categories:
            problems.append(f"{at}: category {category!r} is not under [categories]")
        days = table.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 365:
            problems.append(f"{at}: 'days' (typical processing days) must be a whole number 1..365, got {days!r}")
            days = 0
        papers: list[Paper] = []
        refs = table.get("papers")
        if not isinstance(refs, list) or not refs:
            problems.append(f"{at}: 'papers' must list at least one paper")
            refs = []
        for j, ref in enumerate(refs, 1):
            pat = f"{at} paper #{j}"
            if not isinstance(ref, dict):
                problems.append(f"{pat}: expected {{ id = \"…\", deferrable = false }}")
                continue
            _unknown(ref, _PAPER_REF_KEYS, pat, problems)
            pid = ref.get("id")
            deferrable = ref.get("deferrable", False)
            if not isinstance(deferrable, bool):
                problems.append(f"{pat}: 'deferrable' must be true or false")
                deferrable = False
            if not isinstance(pid, str) or pid not in paper_names:
                problems.append(f"{pat}: paper {pid!r} is not under [papers]")
                continue
            if any(p.id == pid for p in papers):
                problems.append(f"{pat}: paper {pid!r} is listed twice")
                continue
            used_papers.add(pid)
            papers.append(Paper(pid, *paper_names[pid], deferrable=deferrable))
        if papers and all(p.deferrable for p in papers):
            problems.append(f"{at}: every paper is 容缺 (deferrable); at least one must be scanned")
        services[sid] = Service(
            id=sid,
            category=category,
            name_zh=text(table, "zh", at),
            name_en=text(table, "en", at),
            guide_zh=text(table, "guide_zh", at),
            guide_en=text(table, "guide_en", at),
            processing_days=days,
            papers=tuple(papers),
        )
    unused = set(paper_names) - used_papers
    if unused and not problems:
        problems.append(f"papers no service uses (typo?): {', '.join(sorted(unused))}")
    if problems:
        raise GuideError(f"{where}: " + "; ".join(problems))
    return ServiceGuide(categories, services, where)


def _table(data: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict) or not value:
        problems.append(f"[{key}] must be a non-empty table")
        return {}
    return value


def _unknown(table: dict[str, Any], known: set[str], at: str, problems: list[str]) -> None:
    extra = set(table) - known
    if extra:
        problems.append(f"{at}: unknown keys {', '.join(sorted(extra))}")
