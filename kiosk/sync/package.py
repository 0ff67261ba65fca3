"""A committed case, read back from the kiosk's store, as the contract's ``CasePackage``.

Why here and not in ``locker``: the package mixes the store (decrypted identity, card photo,
scans) with the service guide (names, papers, promised working days) and the contract's shapes;
``locker`` knows none of those. Scan sizes and SHA-256s are of the *plain* bytes (the back office
never sees the kiosk's ciphertext), so they are computed by decrypting each scan once here.
The face check's outcome comes from the draft's audit row (distance and frames judged; never the
face itself); "fingerprint enrolled" from whether the case holds a template.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import contract
from flows.guide import ServiceGuide
from locker.errors import StoreError
from locker.submissions import CaseState, SubmissionStore

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
RECEIPT_PRINTED = "case.receipt_printed"  # written by the deposit flow once the paper receipt is out


class PackageError(StoreError):
    """The case cannot be packaged (purged, scan unreadable): the kiosk keeps it and says so."""


@dataclass(frozen=True)
class ScanSource:
    """Where a package file's bytes come from in the kiosk's store."""

    file_id: str
    paper_id: str
    page: int


def file_id_of(paper_id: str, page: int) -> str:
    """A stable, URL-safe file id per (paper, page); a digest keeps two non-ASCII paper ids apart."""
    safe = _UNSAFE.sub("_", paper_id)[:50]
    tag = "" if safe == paper_id else "." + hashlib.sha256(paper_id.encode()).hexdigest()[:10]
    return f"{safe}{tag}.p{page}"


def content_type_of(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    raise PackageError("a scan is neither PDF, JPEG nor PNG")


def card_photo_jpeg(photo: bytes | None) -> str | None:
    """The card photo (stored as PNG) as base64 JPEG for the package, or None if it cannot be read."""
    if not photo:
        return None
    if photo.startswith(b"\xff\xd8"):
        jpeg = photo
    else:
        import cv2
        import numpy as np

        image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return None
        jpeg = buf.tobytes()
    if len(jpeg) > contract.MAX_CARD_PHOTO_BYTES:
        return None
    return base64.b64encode(jpeg).decode("ascii")


def build_package(submissions: SubmissionStore, guide: ServiceGuide | None, kiosk_id: str,
                  case_code: str) -> contract.CasePackage:
    """Read the case back (decrypting what the back office needs) and shape it as the contract says."""
    case = submissions.get_case(case_code)
    if case.committed_at is None or case.state is CaseState.DRAFT:
        raise PackageError(f"case {case_code} is not committed")
    if case.purged:
        raise PackageError(f"case {case_code} was purged by retention before it was delivered")
    ident = submissions.identity(case_code)
    extra = ident.extra
    identity = contract.IdentityData(
        name=ident.name,
        id_number=ident.id_number,
        sex=extra.get("sex"),
        nation=extra.get("nation_code") or extra.get("nation"),
        card_expires=(extra.get("valid_to") or None),
    )
    service = guide.services.get(case.service_id) if guide is not None else None
    names = {p.id: (p.name_zh, p.name_en) for p in service.papers} if service is not None else {}
    papers = tuple(
        contract.Paper(pid, names.get(pid, (pid, pid))[0], names.get(pid, (pid, pid))[1], status.value)
        for pid, status in ((p, case.papers[p]) for p in case.required_papers if p in case.papers)
    )
    files = []
    for row in submissions.db.query(
        "SELECT s.paper_id, s.page FROM scan_files s JOIN cases c ON c.id = s.case_id WHERE c.case_code = ?"
        " AND s.purged_at IS NULL ORDER BY s.paper_id, s.page", (case_code,)
    ):
        if case.papers.get(row["paper_id"]) is None or case.papers[row["paper_id"]].value != "scanned":
            continue
        data = submissions.read_scan(case_code, row["paper_id"], row["page"])
        files.append(contract.ScanFile(
            file_id=file_id_of(row["paper_id"], row["page"]),
            paper_id=row["paper_id"],
            page=int(row["page"]),
            content_type=content_type_of(data),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        ))
    draft_checks: dict[str, object] = {}
    receipt_printed = False
    for r in submissions.audit.rows(case_code):
        if r["action"] == "case.draft":
            draft_checks = dict(r["detail"].get("checks") or {})
        elif r["action"] == RECEIPT_PRINTED:
            receipt_printed = True
    held = submissions.db.query_one("SELECT fingerprint_enc IS NOT NULL AS fp FROM cases WHERE case_code = ?",
                                    (case_code,))
    distance = draft_checks.get("face_distance")
    frames = draft_checks.get("face_frames_judged")
    checks = contract.Checks(
        face=contract.FaceOutcome.MATCHED.value,
        face_distance=round(float(distance), 4) if isinstance(distance, int | float) else None,
        face_frames_judged=int(frames) if isinstance(frames, int) else 0,
        liveness="blink",
        fingerprint_enrolled=bool(held and held["fp"]),
    )
    from locker.resident import ResidentStore  # the number the resident chose to give, and the pickup code

    phone, pickup = ResidentStore(submissions.db, submissions.cipher).contact(case_code)
    pkg = contract.CasePackage(
        case_code=case.case_code,
        kiosk_id=kiosk_id,
        service=contract.Service(
            service_id=case.service_id,
            name_zh=service.name_zh if service else case.service_id,
            name_en=service.name_en if service else case.service_id,
            promised_working_days=service.processing_days if service else 0,
        ),
        identity=identity,
        card_photo_jpeg_b64=card_photo_jpeg(submissions.card_photo(case_code)),
        phone=phone,
        checks=checks,
        papers=papers,
        files=tuple(files),
        compartment_id=case.compartment_id,
        receipt_printed=receipt_printed,
        created_at=float(case.created_at),
        committed_at=float(case.committed_at),
        pickup_code=pickup,
    )
    return pkg


def sources_of(pkg: contract.CasePackage) -> dict[str, ScanSource]:
    return {f.file_id: ScanSource(f.file_id, f.paper_id, f.page) for f in pkg.files}
