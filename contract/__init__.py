"""The kiosk ↔ back-office contract: what a kiosk sends, what the back office answers.

One plain module that both sides import (the kiosk's delivery code and the Django back office),
so the two can never disagree about a field. It imports neither Django nor Kivy, only the
standard library. Everything crosses the wire as JSON built by ``to_json`` and read back by
``from_json``, which validates every field and names the one that is wrong: a back office must
refuse a malformed package whole (never half-store it), and a kiosk must be able to say exactly
what was refused.

Versioning: ``CONTRACT_VERSION`` is a single integer carried by every message. A receiver that
gets a *newer* version than it knows refuses it with ``contract.version_unsupported`` (the sender
keeps the message and retries after an update); an older version it still knows is accepted.

HTTP API (paths relative to the back office's base URL; JSON bodies unless said otherwise):

``POST /api/v1/enrol``
    body ``EnrolRequest``; no credential yet (the one-time code is the credential). Answers
    ``EnrolResponse`` with the kiosk's own secret, shown once.
Every other call carries ``Authorization: Bearer <kiosk_id>.<secret>`` and the header
``X-Kiosk-Time`` (the kiosk's clock, epoch seconds) so the back office can correct a wrong clock.
A revoked or unknown credential is answered 401 with ``kiosk.revoked`` / ``kiosk.credential_invalid``.

``PUT /api/v1/cases/<case_code>``
    body ``CasePackage``. Idempotent: the same package again changes nothing. A *different*
    package under an existing code is refused 409 ``case.conflict``. Answers ``CaseReceipt``
    (which files the back office still lacks). 200/201 only after the case is committed.
``GET /api/v1/cases/<case_code>/files/<file_id>``
    answers ``UploadStatus``: how many bytes of that file the back office holds.
``PUT /api/v1/cases/<case_code>/files/<file_id>``
    raw bytes (``application/octet-stream``) with ``Content-Range: bytes <start>-<end>/<total>``.
    A chunk that starts where the stored bytes end is appended; one that starts earlier is
    checked against what is held (a resend after a cut) and changes nothing; one that leaves a gap
    is refused 416 with the held offset. When the last byte arrives the SHA-256 is checked against
    the package; a mismatch discards the upload (422 ``file.checksum``). Answers ``UploadStatus``.
``POST /api/v1/events``
    body ``EventBatch``. Each event has its own id: the same event twice changes nothing.
    Answers ``EventsReceipt``.

Errors are always ``ErrorBody`` JSON with a stable dotted ``code`` and a human ``message``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

CONTRACT_VERSION = 1

API_PREFIX = "/api/v1"
MAX_PACKAGE_BYTES = 512 * 1024  # JSON of one case, card photo included (scans travel apart)
MAX_FILE_BYTES = 64 * 1024 * 1024  # one scanned paper
MAX_CHUNK_BYTES = 1024 * 1024  # one upload request: a cut costs at most this much again
MAX_EVENTS_PER_BATCH = 200
MAX_CARD_PHOTO_BYTES = 64 * 1024

CASE_CODE_RE = re.compile(r"^[2-9A-HJ-NP-Z]{8}$")
FILE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
KIOSK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
PICKUP_CODE_RE = re.compile(r"^\d{6}$")


class ContractError(ValueError):
    """A message that does not follow the contract. ``code`` is stable; ``message`` names the field."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return ErrorBody(code=self.code, message=self.message).to_json()


# --------------------------------------------------------------------------------------------
# Validation helpers: each names the field path, so a refusal says exactly what is wrong.


def _obj(data: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ContractError("contract.malformed", f"{path}: expected an object")
    return data


def _str(data: Mapping[str, Any], key: str, path: str, *, max_len: int = 200, pattern: re.Pattern[str] | None = None,
         optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ContractError("contract.missing_field", f"{path}.{key}: required")
    if not isinstance(value, str):
        raise ContractError("contract.malformed", f"{path}.{key}: expected a string")
    if len(value) > max_len:
        raise ContractError("contract.malformed", f"{path}.{key}: longer than {max_len} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ContractError("contract.malformed", f"{path}.{key}: contains control characters")
    if pattern is not None and not pattern.match(value):
        raise ContractError("contract.malformed", f"{path}.{key}: {value[:40]!r} is not a valid value")
    return value


def _req_str(data: Mapping[str, Any], key: str, path: str, **kw: Any) -> str:
    value = _str(data, key, path, **kw)
    assert value is not None
    return value


def _num(data: Mapping[str, Any], key: str, path: str, *, optional: bool = False, minimum: float = 0.0,
         integer: bool = False) -> float | None:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ContractError("contract.missing_field", f"{path}.{key}: required")
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise ContractError("contract.malformed", f"{path}.{key}: expected a {'whole ' if integer else ''}number")
    if value < minimum:
        raise ContractError("contract.malformed", f"{path}.{key}: below {minimum}")
    return value


def _bool(data: Mapping[str, Any], key: str, path: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ContractError("contract.malformed", f"{path}.{key}: expected true or false")
    return value


def _list(data: Mapping[str, Any], key: str, path: str, *, max_items: int) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ContractError("contract.malformed", f"{path}.{key}: expected a list")
    if len(value) > max_items:
        raise ContractError("contract.too_large", f"{path}.{key}: more than {max_items} items")
    return value


def check_version(data: Mapping[str, Any], what: str) -> int:
    """Refuse a message from a newer contract clearly; the sender keeps it and retries later."""
    version = data.get("contract")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ContractError("contract.malformed", f"{what}.contract: expected the contract version number")
    if version > CONTRACT_VERSION:
        raise ContractError(
            "contract.version_unsupported",
            f"{what} uses contract version {version}; this back office knows up to {CONTRACT_VERSION}."
            " Update the back office; the kiosk keeps the message and sends it again later.",
            status=422,
        )
    return version


def parse_json_body(raw: bytes, *, limit: int, what: str) -> Mapping[str, Any]:
    """Bytes off the wire → a JSON object, refusing oversized or broken bodies with a clear error."""
    if len(raw) > limit:
        raise ContractError("contract.too_large", f"{what}: {len(raw)} bytes, the limit is {limit}", status=413)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError("contract.malformed", f"{what}: not JSON ({exc})") from exc
    return _obj(data, what)


def dumps(message: Any) -> bytes:
    """The canonical JSON bytes of a message (sorted keys): equal messages give equal bytes."""
    payload = message.to_json() if hasattr(message, "to_json") else message
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(message: Any) -> str:
    """SHA-256 of the canonical JSON: how the back office tells "the same package again"."""
    return hashlib.sha256(dumps(message)).hexdigest()


# --------------------------------------------------------------------------------------------
# Enrolment


@dataclass(frozen=True)
class EnrolRequest:
    code: str  # the one-time code an admin got when creating the kiosk
    software_version: str
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> EnrolRequest:
        d = _obj(data, "enrol")
        version = check_version(d, "enrol")
        return cls(
            code=_req_str(d, "code", "enrol", max_len=64),
            software_version=_req_str(d, "software_version", "enrol", max_len=40),
            contract=version,
        )


@dataclass(frozen=True)
class EnrolResponse:
    kiosk_id: str
    credential: str  # "<kiosk_id>.<secret>": the Bearer token; the back office keeps only a hash
    kiosk_name: str
    town: str
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> EnrolResponse:
        d = _obj(data, "enrolment")
        version = check_version(d, "enrolment")
        kiosk_id = _req_str(d, "kiosk_id", "enrolment", pattern=KIOSK_ID_RE, max_len=63)
        credential = _req_str(d, "credential", "enrolment", max_len=200)
        if not credential.startswith(kiosk_id + "."):
            raise ContractError("contract.malformed", "enrolment.credential: does not belong to this kiosk")
        return cls(kiosk_id, credential, _req_str(d, "kiosk_name", "enrolment"), _req_str(d, "town", "enrolment"),
                   version)


def split_credential(token: str) -> tuple[str, str]:
    """``"<kiosk_id>.<secret>"`` → (kiosk_id, secret); a forged shape raises ``ContractError``."""
    kiosk_id, sep, secret = token.partition(".")
    if not sep or not KIOSK_ID_RE.match(kiosk_id) or not (20 <= len(secret) <= 128):
        raise ContractError("kiosk.credential_invalid", "the kiosk credential is not valid", status=401)
    return kiosk_id, secret


def credential_hash(secret: str) -> str:
    """What the back office stores: the secret is 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# The case package


class PaperStatus(StrEnum):
    SCANNED = "scanned"
    DEFERRED = "deferred"  # 容缺: accepted now, the paper is handed in later


class FaceOutcome(StrEnum):
    MATCHED = "matched"  # same person as the card photo, with liveness
    STAFF_OVERRIDE = "staff_override"


@dataclass(frozen=True)
class IdentityData:
    """What the ID card said that the case needs. No address or birth date: the case needs neither."""

    name: str
    id_number: str
    sex: str | None = None
    nation: str | None = None
    card_expires: str | None = None  # "YYYYMMDD" or "长期"

    @classmethod
    def from_json(cls, data: Any) -> IdentityData:
        d = _obj(data, "case.identity")
        return cls(
            name=_req_str(d, "name", "case.identity", max_len=60),
            id_number=_req_str(d, "id_number", "case.identity", max_len=30),
            sex=_str(d, "sex", "case.identity", max_len=10, optional=True),
            nation=_str(d, "nation", "case.identity", max_len=20, optional=True),
            card_expires=_str(d, "card_expires", "case.identity", max_len=10, optional=True),
        )

    def __repr__(self) -> str:  # never leak the identity into a traceback or log
        return "IdentityData(<personal data>)"


@dataclass(frozen=True)
class Checks:
    """The outcome of the biometric checks — never the biometric data itself."""

    face: str  # FaceOutcome
    face_distance: float | None  # best distance to the card photo (lower is closer)
    face_frames_judged: int
    liveness: str  # e.g. "blink"
    fingerprint_enrolled: bool

    @classmethod
    def from_json(cls, data: Any) -> Checks:
        d = _obj(data, "case.checks")
        face = _req_str(d, "face", "case.checks", max_len=30)
        if face not in {o.value for o in FaceOutcome}:
            raise ContractError("contract.malformed", f"case.checks.face: unknown outcome {face!r}")
        frames = _num(d, "face_frames_judged", "case.checks", integer=True)
        return cls(
            face=face,
            face_distance=_num(d, "face_distance", "case.checks", optional=True),
            face_frames_judged=int(frames or 0),
            liveness=_req_str(d, "liveness", "case.checks", max_len=30),
            fingerprint_enrolled=_bool(d, "fingerprint_enrolled", "case.checks"),
        )


@dataclass(frozen=True)
class ScanFile:
    """One scanned paper's file. ``sha256`` and ``size`` are of the plain bytes (not the kiosk's ciphertext)."""

    file_id: str
    paper_id: str
    page: int
    content_type: str
    size: int
    sha256: str

    @classmethod
    def from_json(cls, data: Any, path: str) -> ScanFile:
        d = _obj(data, path)
        content_type = _req_str(d, "content_type", path, max_len=60)
        if content_type not in {"application/pdf", "image/jpeg", "image/png"}:
            raise ContractError("contract.malformed", f"{path}.content_type: {content_type!r} is not accepted")
        size = int(_num(d, "size", path, integer=True) or 0)
        if size < 1 or size > MAX_FILE_BYTES:
            raise ContractError("contract.too_large" if size > MAX_FILE_BYTES else "contract.malformed",
                                f"{path}.size: {size} bytes (1..{MAX_FILE_BYTES})", status=413 if size else 400)
        return cls(
            file_id=_req_str(d, "file_id", path, pattern=FILE_ID_RE, max_len=80),
            paper_id=_req_str(d, "paper_id", path, max_len=80),
            page=int(_num(d, "page", path, integer=True) or 0),
            content_type=content_type,
            size=size,
            sha256=_req_str(d, "sha256", path, pattern=SHA256_RE, max_len=64),
        )


@dataclass(frozen=True)
class Paper:
    paper_id: str
    name_zh: str
    name_en: str
    status: str  # PaperStatus

    @classmethod
    def from_json(cls, data: Any, path: str) -> Paper:
        d = _obj(data, path)
        status = _req_str(d, "status", path, max_len=20)
        if status not in {s.value for s in PaperStatus}:
            raise ContractError("contract.malformed", f"{path}.status: unknown paper status {status!r}")
        return cls(_req_str(d, "paper_id", path, max_len=80), _req_str(d, "name_zh", path),
                   _req_str(d, "name_en", path), status)


@dataclass(frozen=True)
class Service:
    service_id: str
    name_zh: str
    name_en: str
    promised_working_days: int  # the guide's "约 N 个工作日"

    @classmethod
    def from_json(cls, data: Any) -> Service:
        d = _obj(data, "case.service")
        days = int(_num(d, "promised_working_days", "case.service", integer=True) or 0)
        return cls(_req_str(d, "service_id", "case.service", max_len=80), _req_str(d, "name_zh", "case.service"),
                   _req_str(d, "name_en", "case.service"), days)


@dataclass(frozen=True)
class CasePackage:
    """A committed case as the kiosk took it: the back office's first record of it.

    Times are the kiosk's clock (epoch seconds); ``sent_at`` is the kiosk's clock when the package
    left, so the back office can correct a kiosk whose clock is off by comparing it with its own.
    """

    case_code: str
    kiosk_id: str
    service: Service
    identity: IdentityData
    card_photo_jpeg_b64: str | None
    phone: str | None  # mainland mobile number the resident gave for SMS, or None
    checks: Checks
    papers: tuple[Paper, ...]
    files: tuple[ScanFile, ...]
    compartment_id: str | None
    receipt_printed: bool
    created_at: float
    committed_at: float
    contract: int = CONTRACT_VERSION
    # The receipt's pickup code, for the back office's "result ready" SMS and the progress page's
    # proof of ownership. Only over the kiosk's authenticated channel; never in a repr or a log.
    pickup_code: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.pickup_code is None:
            del d["pickup_code"]  # a package without it digests as it did before the field existed
        d["papers"] = [asdict(p) for p in self.papers]
        d["files"] = [asdict(f) for f in self.files]
        return d

    @property
    def deferred_papers(self) -> tuple[str, ...]:
        return tuple(p.paper_id for p in self.papers if p.status == PaperStatus.DEFERRED)

    def file(self, file_id: str) -> ScanFile:
        for f in self.files:
            if f.file_id == file_id:
                return f
        raise ContractError("file.unknown", f"case {self.case_code} has no file {file_id!r}", status=404)

    def card_photo(self) -> bytes | None:
        if self.card_photo_jpeg_b64 is None:
            return None
        return base64.b64decode(self.card_photo_jpeg_b64)

    @classmethod
    def from_json(cls, data: Any) -> CasePackage:
        d = _obj(data, "case")
        version = check_version(d, "case")
        photo = _str(d, "card_photo_jpeg_b64", "case", max_len=MAX_CARD_PHOTO_BYTES * 2, optional=True)
        if photo is not None:
            try:
                base64.b64decode(photo, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ContractError("contract.malformed", "case.card_photo_jpeg_b64: not base64") from exc
        pickup = _str(d, "pickup_code", "case", max_len=6, optional=True, pattern=PICKUP_CODE_RE)
        phone = _str(d, "phone", "case", max_len=20, optional=True)
        if phone is not None and not is_mainland_mobile(phone):
            raise ContractError("contract.malformed", "case.phone: not a mainland mobile number")
        papers = tuple(Paper.from_json(p, f"case.papers[{i}]")
                       for i, p in enumerate(_list(d, "papers", "case", max_items=50)))
        files = tuple(ScanFile.from_json(f, f"case.files[{i}]")
                      for i, f in enumerate(_list(d, "files", "case", max_items=200)))
        if len({f.file_id for f in files}) != len(files):
            raise ContractError("contract.malformed", "case.files: the same file_id twice")
        paper_ids = {p.paper_id for p in papers}
        for f in files:
            if f.paper_id not in paper_ids:
                raise ContractError("contract.malformed", f"case.files: {f.file_id} belongs to no paper of the case")
        created = _num(d, "created_at", "case")
        committed = _num(d, "committed_at", "case")
        return cls(
            case_code=_req_str(d, "case_code", "case", pattern=CASE_CODE_RE, max_len=8),
            kiosk_id=_req_str(d, "kiosk_id", "case", pattern=KIOSK_ID_RE, max_len=63),
            service=Service.from_json(d.get("service")),
            identity=IdentityData.from_json(d.get("identity")),
            card_photo_jpeg_b64=photo,
            phone=phone,
            checks=Checks.from_json(d.get("checks")),
            papers=papers,
            files=files,
            compartment_id=_str(d, "compartment_id", "case", max_len=20, optional=True),
            receipt_printed=_bool(d, "receipt_printed", "case"),
            created_at=float(created or 0.0),
            committed_at=float(committed or 0.0),
            contract=version,
            pickup_code=pickup,
        )


def is_mainland_mobile(number: str) -> bool:
    """11 digits starting 1[3-9]: what SMS to a mainland resident needs."""
    return re.fullmatch(r"1[3-9]\d{9}", number) is not None


@dataclass(frozen=True)
class CaseReceipt:
    """The back office's answer to a package: committed, and which files it still lacks."""

    case_code: str
    created: bool  # False when the same package was already held
    missing_files: tuple[str, ...]
    contract: int = CONTRACT_VERSION

    @property
    def complete(self) -> bool:
        return not self.missing_files

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["missing_files"] = list(self.missing_files)
        return d

    @classmethod
    def from_json(cls, data: Any) -> CaseReceipt:
        d = _obj(data, "receipt")
        version = check_version(d, "receipt")
        missing = _list(d, "missing_files", "receipt", max_items=200)
        if not all(isinstance(m, str) for m in missing):
            raise ContractError("contract.malformed", "receipt.missing_files: expected file ids")
        return cls(_req_str(d, "case_code", "receipt", pattern=CASE_CODE_RE), _bool(d, "created", "receipt"),
                   tuple(missing), version)


@dataclass(frozen=True)
class UploadStatus:
    file_id: str
    received: int  # bytes the back office holds, in order from the first
    size: int
    complete: bool  # all bytes held and the SHA-256 checked

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> UploadStatus:
        d = _obj(data, "upload")
        return cls(_req_str(d, "file_id", "upload", pattern=FILE_ID_RE),
                   int(_num(d, "received", "upload", integer=True) or 0),
                   int(_num(d, "size", "upload", integer=True) or 0), _bool(d, "complete", "upload"))


def content_range(start: int, end_exclusive: int, total: int) -> str:
    """The ``Content-Range`` header of one chunk (HTTP's inclusive end)."""
    return f"bytes {start}-{end_exclusive - 1}/{total}"


def parse_content_range(header: str | None) -> tuple[int, int, int]:
    """``Content-Range`` → (start, end_exclusive, total), refusing what does not add up."""
    m = CONTENT_RANGE_RE.match(header or "")
    if not m:
        raise ContractError("upload.range", "Content-Range must be 'bytes <start>-<end>/<total>'")
    start, end, total = (int(g) for g in m.groups())
    if end < start or end >= total or end - start + 1 > MAX_CHUNK_BYTES:
        raise ContractError("upload.range", f"Content-Range {header!r} does not fit the file or the chunk limit")
    return start, end + 1, total


# --------------------------------------------------------------------------------------------
# Events after the package


class EventKind(StrEnum):
    COLLECTED = "collected"  # staff took the originals out of the compartment
    RESULT_PLACED = "result_placed"
    RESULT_COLLECTED = "result_collected"
    CANCELLED = "cancelled"
    DOOR_JAMMED = "door_jammed"
    FORCED_OPEN = "forced_open"
    HELP_REQUESTED = "help_requested"  # 一键呼叫: a resident pressed "call for help" (no case, nothing personal)


@dataclass(frozen=True)
class KioskEvent:
    """Something that happened to a case at the kiosk. ``event_id`` makes a resend harmless."""

    event_id: str
    case_code: str | None  # None for a door event with no case in the compartment
    kind: str  # EventKind
    at: float  # kiosk clock
    actor: str  # masked: "staff:04A1…C3", "resident", "kiosk"
    compartment_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, path: str = "event") -> KioskEvent:
        d = _obj(data, path)
        kind = _req_str(d, "kind", path, max_len=30)
        if kind not in {k.value for k in EventKind}:
            raise ContractError("contract.malformed", f"{path}.kind: unknown event {kind!r}")
        detail = _obj(d.get("detail", {}), f"{path}.detail")
        if len(detail) > 20 or not all(isinstance(k, str) and isinstance(v, str) and len(v) <= 500
                                       for k, v in detail.items()):
            raise ContractError("contract.malformed", f"{path}.detail: expected up to 20 short text fields")
        return cls(
            event_id=_req_str(d, "event_id", path, pattern=FILE_ID_RE, max_len=80),
            case_code=_str(d, "case_code", path, pattern=CASE_CODE_RE, optional=True),
            kind=kind,
            at=float(_num(d, "at", path) or 0.0),
            actor=_req_str(d, "actor", path, max_len=60),
            compartment_id=_str(d, "compartment_id", path, max_len=20, optional=True),
            detail=dict(detail),
        )


@dataclass(frozen=True)
class EventBatch:
    kiosk_id: str
    sent_at: float
    events: tuple[KioskEvent, ...]
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "kiosk_id": self.kiosk_id, "sent_at": self.sent_at,
                "events": [e.to_json() for e in self.events]}

    @classmethod
    def from_json(cls, data: Any) -> EventBatch:
        d = _obj(data, "events")
        version = check_version(d, "events")
        events = tuple(KioskEvent.from_json(e, f"events.events[{i}]")
                       for i, e in enumerate(_list(d, "events", "events", max_items=MAX_EVENTS_PER_BATCH)))
        return cls(_req_str(d, "kiosk_id", "events", pattern=KIOSK_ID_RE), float(_num(d, "sent_at", "events") or 0),
                   events, version)


@dataclass(frozen=True)
class EventsReceipt:
    accepted: tuple[str, ...]  # event ids now held (new or already held)
    refused: dict[str, str]  # event id → why (e.g. unknown case: the kiosk resends after the case)
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "accepted": list(self.accepted), "refused": dict(self.refused)}

    @classmethod
    def from_json(cls, data: Any) -> EventsReceipt:
        d = _obj(data, "events_receipt")
        version = check_version(d, "events_receipt")
        accepted = _list(d, "accepted", "events_receipt", max_items=MAX_EVENTS_PER_BATCH)
        refused = _obj(d.get("refused", {}), "events_receipt.refused")
        return cls(tuple(str(a) for a in accepted), {str(k): str(v) for k, v in refused.items()}, version)


@dataclass(frozen=True)
class ErrorBody:
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    @classmethod
    def from_json(cls, data: Any) -> ErrorBody:
        d = _obj(_obj(data, "error").get("error"), "error.error")
        return cls(_req_str(d, "code", "error", max_len=80), _req_str(d, "message", "error", max_len=2000))


def file_sha256(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# The fleet (issue 13): heartbeats, audit heads kept off the kiosk, and what the kiosk pulls.
#
# ``POST /api/v1/fleet/heartbeat``  body ``Heartbeat``; answers ``HeartbeatAnswer``, which may ask
#     for the hashes at earlier audit seqs (``audit_challenge``); the kiosk answers them in its next
#     heartbeat (``audit_proofs``). A chain rewritten, cut or replaced cannot answer with the hashes
#     it reported before, and the back office keeps every head it was ever sent.
# ``GET /api/v1/fleet/staff?have=<version>``  answers ``StaffAccountsSnapshot`` (``unchanged`` when
#     the kiosk already holds that version). PINs travel only as salted scrypt digests.
# ``GET /api/v1/fleet/guide?have=<version>``  answers ``GuideVersion`` (or ``unchanged``).
# ``GET /api/v1/fleet/results``  answers ``ResultsToPlace``.
# ``POST /api/v1/fleet/results/<case_code>/placed``  body ``ResultPlaced``.

MAX_HEARTBEAT_BYTES = 64 * 1024
MAX_GUIDE_BYTES = 512 * 1024
AUDIT_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
BADGE_RE = re.compile(r"^[0-9A-F]{4,32}$")
PIN_KDF_RE = re.compile(r"^scrypt:\d{1,7}:\d{1,3}:\d{1,3}$")


@dataclass(frozen=True)
class DeviceReport:
    """One device's status as the kiosk's runtime tracks it, and since when (kiosk clock)."""

    name: str
    status: str  # devices.status.DeviceStatus value: online, offline, hardware_error, …
    detail: str
    since: float

    @classmethod
    def from_json(cls, data: Any, path: str) -> DeviceReport:
        d = _obj(data, path)
        return cls(_req_str(d, "name", path, max_len=40, pattern=FILE_ID_RE), _req_str(d, "status", path, max_len=30),
                   _req_str(d, "detail", path, max_len=300), float(_num(d, "since", path) or 0.0))


@dataclass(frozen=True)
class CompartmentCounts:
    free: int
    occupied: int  # holding papers or a result, or reserved
    out_of_order: int
    total: int
    out_of_order_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_of_order_ids"] = list(self.out_of_order_ids)
        return d

    @classmethod
    def from_json(cls, data: Any, path: str = "heartbeat.compartments") -> CompartmentCounts:
        d = _obj(data, path)
        ids = _list(d, "out_of_order_ids", path, max_items=500)
        if not all(isinstance(i, str) and len(i) <= 20 for i in ids):
            raise ContractError("contract.malformed", f"{path}.out_of_order_ids: expected compartment ids")
        nums = [int(_num(d, k, path, integer=True) or 0) for k in ("free", "occupied", "out_of_order", "total")]
        if nums[0] + nums[1] + nums[2] > nums[3]:
            raise ContractError("contract.malformed", f"{path}: free + occupied + out_of_order exceed total")
        return cls(*nums, out_of_order_ids=tuple(ids))


@dataclass(frozen=True)
class AuditProof:
    """The hash the kiosk's chain holds at ``seq`` now (None: the chain has no such row any more)."""

    seq: int
    hash: str | None

    @classmethod
    def from_json(cls, data: Any, path: str) -> AuditProof:
        d = _obj(data, path)
        seq = int(_num(d, "seq", path, integer=True) or 0)
        return cls(seq, _str(d, "hash", path, max_len=64, pattern=AUDIT_HASH_RE, optional=True))


@dataclass(frozen=True)
class Heartbeat:
    """What a kiosk says about itself every ``interval_s`` seconds (times are the kiosk's clock)."""

    kiosk_id: str
    sent_at: float
    interval_s: float
    software_version: str
    disk_free_bytes: int
    disk_total_bytes: int
    devices: tuple[DeviceReport, ...]
    compartments: CompartmentCounts
    originals_waiting: int  # committed cases whose papers wait in a compartment for staff
    oldest_original_at: float | None
    outbox_depth: int  # cases not yet acknowledged by the back office
    oldest_undelivered_at: float | None
    outbox_last_error: str | None
    audit_seq: int  # the head of the kiosk's audit chain
    audit_hash: str
    audit_proofs: tuple[AuditProof, ...] = ()  # answers to the previous answer's audit_challenge
    guide_version: int = 1
    guide_refused: dict[str, str] = field(default_factory=dict)  # version → why the kiosk refused it
    staff_version: int = 0
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["devices"] = [asdict(x) for x in self.devices]
        d["compartments"] = self.compartments.to_json()
        d["audit_proofs"] = [asdict(p) for p in self.audit_proofs]
        return d

    @classmethod
    def from_json(cls, data: Any) -> Heartbeat:
        d = _obj(data, "heartbeat")
        version = check_version(d, "heartbeat")
        p = "heartbeat"
        devices = tuple(DeviceReport.from_json(x, f"{p}.devices[{i}]")
                        for i, x in enumerate(_list(d, "devices", p, max_items=40)))
        proofs = tuple(AuditProof.from_json(x, f"{p}.audit_proofs[{i}]")
                       for i, x in enumerate(_list(d, "audit_proofs", p, max_items=20)))
        refused = _obj(d.get("guide_refused", {}), f"{p}.guide_refused")
        if len(refused) > 5 or not all(isinstance(v, str) and len(v) <= 2000 for v in refused.values()):
            raise ContractError("contract.malformed", f"{p}.guide_refused: expected up to 5 reasons")
        audit_hash = _req_str(d, "audit_hash", p, max_len=64, pattern=AUDIT_HASH_RE)
        interval = float(_num(d, "interval_s", p, minimum=1.0) or 30.0)
        return cls(
            kiosk_id=_req_str(d, "kiosk_id", p, pattern=KIOSK_ID_RE, max_len=63),
            sent_at=float(_num(d, "sent_at", p) or 0.0),
            interval_s=interval,
            software_version=_req_str(d, "software_version", p, max_len=40),
            disk_free_bytes=int(_num(d, "disk_free_bytes", p, integer=True) or 0),
            disk_total_bytes=int(_num(d, "disk_total_bytes", p, integer=True) or 0),
            devices=devices,
            compartments=CompartmentCounts.from_json(d.get("compartments")),
            originals_waiting=int(_num(d, "originals_waiting", p, integer=True) or 0),
            oldest_original_at=_num(d, "oldest_original_at", p, optional=True),
            outbox_depth=int(_num(d, "outbox_depth", p, integer=True) or 0),
            oldest_undelivered_at=_num(d, "oldest_undelivered_at", p, optional=True),
            outbox_last_error=_str(d, "outbox_last_error", p, max_len=2000, optional=True),
            audit_seq=int(_num(d, "audit_seq", p, integer=True) or 0),
            audit_hash=audit_hash,
            audit_proofs=proofs,
            guide_version=int(_num(d, "guide_version", p, integer=True, minimum=1) or 1),
            guide_refused={str(k): str(v) for k, v in refused.items()},
            staff_version=int(_num(d, "staff_version", p, integer=True) or 0),
            contract=version,
        )


@dataclass(frozen=True)
class HeartbeatAnswer:
    received_at: float  # back-office clock
    audit_challenge: tuple[int, ...]  # seqs whose hash the kiosk sends in its next heartbeat
    staff_version: int  # newest staff accounts snapshot for this kiosk: pull when it differs
    guide_version: int  # the guide version this kiosk should run
    results_waiting: int  # results the back office wants placed at this kiosk
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["audit_challenge"] = list(self.audit_challenge)
        return d

    @classmethod
    def from_json(cls, data: Any) -> HeartbeatAnswer:
        d = _obj(data, "heartbeat_answer")
        version = check_version(d, "heartbeat_answer")
        p = "heartbeat_answer"
        challenge = _list(d, "audit_challenge", p, max_items=20)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in challenge):
            raise ContractError("contract.malformed", f"{p}.audit_challenge: expected sequence numbers")
        return cls(float(_num(d, "received_at", p) or 0.0), tuple(challenge),
                   int(_num(d, "staff_version", p, integer=True) or 0),
                   int(_num(d, "guide_version", p, integer=True, minimum=1) or 1),
                   int(_num(d, "results_waiting", p, integer=True) or 0), version)


@dataclass(frozen=True)
class StaffAccountEntry:
    """One person who may use this kiosk's staff screen: the PIN only as its salted scrypt digest.

    The kiosk peppers the digest with its own data key before storing it (locker/staff.py), so
    neither side's database alone can be tried offline, and no plain PIN ever crosses the wire.
    """

    badge_uid: str  # normalised hex
    name: str
    pin_kdf: str  # "scrypt:N:r:p"
    pin_salt_b64: str
    pin_digest_b64: str

    def __repr__(self) -> str:  # a digest is still a guessing target: keep it out of logs
        return f"StaffAccountEntry(badge=<masked>, name={self.name!r})"

    @classmethod
    def from_json(cls, data: Any, path: str) -> StaffAccountEntry:
        d = _obj(data, path)
        salt = _req_str(d, "pin_salt_b64", path, max_len=64)
        digest_ = _req_str(d, "pin_digest_b64", path, max_len=88)
        for key, value, size in (("pin_salt_b64", salt, 16), ("pin_digest_b64", digest_, 32)):
            try:
                if len(base64.b64decode(value, validate=True)) != size:
                    raise ValueError
            except (binascii.Error, ValueError) as exc:
                raise ContractError("contract.malformed", f"{path}.{key}: expected {size} bytes in base64") from exc
        return cls(_req_str(d, "badge_uid", path, max_len=32, pattern=BADGE_RE), _req_str(d, "name", path, max_len=60),
                   _req_str(d, "pin_kdf", path, max_len=40, pattern=PIN_KDF_RE), salt, digest_)


@dataclass(frozen=True)
class StaffAccountsSnapshot:
    """Everyone who serves this kiosk, whole: what is not listed is revoked on the kiosk."""

    kiosk_id: str
    version: int
    accounts: tuple[StaffAccountEntry, ...]
    unchanged: bool = False  # the kiosk already holds ``version``: ``accounts`` is empty
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "kiosk_id": self.kiosk_id, "version": self.version,
                "unchanged": self.unchanged, "accounts": [asdict(a) for a in self.accounts]}

    @classmethod
    def from_json(cls, data: Any) -> StaffAccountsSnapshot:
        d = _obj(data, "staff")
        version = check_version(d, "staff")
        accounts = tuple(StaffAccountEntry.from_json(a, f"staff.accounts[{i}]")
                         for i, a in enumerate(_list(d, "accounts", "staff", max_items=500)))
        if len({a.badge_uid for a in accounts}) != len(accounts):
            raise ContractError("contract.malformed", "staff.accounts: the same badge twice")
        return cls(_req_str(d, "kiosk_id", "staff", pattern=KIOSK_ID_RE),
                   int(_num(d, "version", "staff", integer=True) or 0), accounts,
                   _bool(d, "unchanged", "staff"), version)


@dataclass(frozen=True)
class GuideVersion:
    """One version of the service guide: the whole ``services.toml``, switched to at once or refused."""

    version: int
    services_toml: str
    sha256: str  # of the UTF-8 text: a copy damaged on the way is refused, not half-used
    unchanged: bool = False
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> GuideVersion:
        d = _obj(data, "guide")
        version = check_version(d, "guide")
        text = _str(d, "services_toml", "guide", max_len=MAX_GUIDE_BYTES)
        sha = _req_str(d, "sha256", "guide", pattern=SHA256_RE, max_len=64)
        unchanged = _bool(d, "unchanged", "guide")
        if not unchanged and hashlib.sha256((text or "").encode("utf-8")).hexdigest() != sha:
            raise ContractError("guide.checksum", "guide.services_toml: does not match its sha256")
        return cls(int(_num(d, "version", "guide", integer=True, minimum=1) or 1), text or "", sha, unchanged, version)


@dataclass(frozen=True)
class ResultToPlace:
    """A result (certificate, licence…) the back office sends to this kiosk for the resident to collect."""

    case_code: str
    service_name_zh: str
    service_name_en: str
    resident_masked: str  # "欧*明": enough for staff to match the envelope, no more
    outcome: str  # approved / rejected / more_papers
    ready_at: float  # back-office clock

    @classmethod
    def from_json(cls, data: Any, path: str) -> ResultToPlace:
        d = _obj(data, path)
        return cls(_req_str(d, "case_code", path, pattern=CASE_CODE_RE), _req_str(d, "service_name_zh", path),
                   _req_str(d, "service_name_en", path), _req_str(d, "resident_masked", path, max_len=40),
                   _req_str(d, "outcome", path, max_len=30), float(_num(d, "ready_at", path) or 0.0))


@dataclass(frozen=True)
class ResultsToPlace:
    kiosk_id: str
    results: tuple[ResultToPlace, ...]
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "kiosk_id": self.kiosk_id, "results": [asdict(r) for r in self.results]}

    @classmethod
    def from_json(cls, data: Any) -> ResultsToPlace:
        d = _obj(data, "results")
        version = check_version(d, "results")
        results = tuple(ResultToPlace.from_json(r, f"results.results[{i}]")
                        for i, r in enumerate(_list(d, "results", "results", max_items=500)))
        return cls(_req_str(d, "kiosk_id", "results", pattern=KIOSK_ID_RE), results, version)


@dataclass(frozen=True)
class ResultPlaced:
    case_code: str
    compartment_id: str
    placed_at: float  # kiosk clock
    actor: str  # masked staff badge
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ResultPlaced:
        d = _obj(data, "placed")
        version = check_version(d, "placed")
        return cls(_req_str(d, "case_code", "placed", pattern=CASE_CODE_RE),
                   _req_str(d, "compartment_id", "placed", max_len=20),
                   float(_num(d, "placed_at", "placed") or 0.0), _req_str(d, "actor", "placed", max_len=60), version)


# --------------------------------------------------------------------------------------------
# 好差评 (issue 14): the resident's rating of a visit, GB/T 39734-2020 five levels.
#
# ``POST /api/v1/ratings``  body ``RatingBatch``; answers ``EventsReceipt`` (accepted / refused by
#     rating id). One rating per visit (一次一评): ``rating_id`` is the visit's id, and the first
#     rating held under it stands; a second one is accepted as "already held" and changes nothing.


class RatingLevel(StrEnum):
    VERY_SATISFIED = "very_satisfied"  # 非常满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    VERY_DISSATISFIED = "very_dissatisfied"  # 非常不满意


RATING_SCORES = {RatingLevel.VERY_SATISFIED: 5, RatingLevel.SATISFIED: 4, RatingLevel.BASICALLY_SATISFIED: 3,
                 RatingLevel.DISSATISFIED: 2, RatingLevel.VERY_DISSATISFIED: 1}
BAD_RATINGS = (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)  # 差评: reasons asked, rectified


class RatingReason(StrEnum):
    WAITING = "waiting"
    DEVICE_FAILED = "device_failed"
    INSTRUCTIONS_UNCLEAR = "instructions_unclear"
    STAFF_ATTITUDE = "staff_attitude"
    OTHER = "other"


class RatingOccasion(StrEnum):
    DEPOSIT = "deposit"  # end of handing in papers at the kiosk
    PICKUP = "pickup"  # end of fetching a result at the kiosk
    ONLINE = "online"  # the progress page, once the case is done (一事一评)


MAX_RATING_NOTE = 200
MAX_RATINGS_PER_BATCH = 100


@dataclass(frozen=True)
class Rating:
    rating_id: str  # the visit's id: one rating per visit
    case_code: str | None
    occasion: str  # RatingOccasion
    level: str  # RatingLevel
    reasons: tuple[str, ...]  # RatingReason values; only for a 差评
    note: str
    at: float  # kiosk clock

    @property
    def is_bad(self) -> bool:
        return self.level in {b.value for b in BAD_RATINGS}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d

    @classmethod
    def from_json(cls, data: Any, path: str = "rating") -> Rating:
        d = _obj(data, path)
        level = _req_str(d, "level", path, max_len=30)
        if level not in {v.value for v in RatingLevel}:
            raise ContractError("contract.malformed", f"{path}.level: unknown level {level!r}")
        occasion = _req_str(d, "occasion", path, max_len=20)
        if occasion not in {v.value for v in RatingOccasion}:
            raise ContractError("contract.malformed", f"{path}.occasion: unknown occasion {occasion!r}")
        reasons = _list(d, "reasons", path, max_items=len(RatingReason))
        known = {v.value for v in RatingReason}
        if not all(isinstance(r, str) and r in known for r in reasons) or len(set(reasons)) != len(reasons):
            raise ContractError("contract.malformed", f"{path}.reasons: expected distinct reasons from {sorted(known)}")
        bad = level in {b.value for b in BAD_RATINGS}
        if reasons and not bad:
            raise ContractError("contract.malformed", f"{path}.reasons: only a 不满意 or 非常不满意 rating has reasons")
        return cls(
            rating_id=_req_str(d, "rating_id", path, pattern=FILE_ID_RE, max_len=80),
            case_code=_str(d, "case_code", path, pattern=CASE_CODE_RE, optional=True),
            occasion=occasion, level=level, reasons=tuple(reasons),
            note=_str(d, "note", path, max_len=MAX_RATING_NOTE, optional=True) or "",
            at=float(_num(d, "at", path) or 0.0),
        )


@dataclass(frozen=True)
class RatingBatch:
    kiosk_id: str
    ratings: tuple[Rating, ...]
    contract: int = CONTRACT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "kiosk_id": self.kiosk_id, "ratings": [r.to_json() for r in self.ratings]}

    @classmethod
    def from_json(cls, data: Any) -> RatingBatch:
        d = _obj(data, "ratings")
        version = check_version(d, "ratings")
        ratings = tuple(Rating.from_json(r, f"ratings.ratings[{i}]")
                        for i, r in enumerate(_list(d, "ratings", "ratings", max_items=MAX_RATINGS_PER_BATCH)))
        return cls(_req_str(d, "kiosk_id", "ratings", pattern=KIOSK_ID_RE), ratings, version)
