"""A case as the approval platform (一窗通办) takes it: JSON, and a zip of that JSON plus the scans.

Exports carry the identity unmasked, so each one is audited like a reveal.
"""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

from django.core.files.storage import default_storage

import contract
from backoffice.cases.models import Case

EXPORT_FORMAT = 1


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "case_code": case.case_code, "state": case.state, "service_id": case.service_id,
        "kiosk_id": case.kiosk.kiosk_id, "village": case.kiosk.village, "due_date": case.due_date.isoformat(),
        "deposited_at": case.deposited_at.isoformat(), "updated_at": case.updated_at.isoformat(),
    }


def file_path(f: Any) -> str:
    ext = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(f.content_type, "bin")
    return f"files/{f.file_id}.{ext}"


def case_document(case: Case) -> dict[str, Any]:
    photo = case.card_photo()
    return {
        "export_format": EXPORT_FORMAT, "contract": contract.CONTRACT_VERSION,
        **case_summary(case),
        "town": case.town.name,
        "kiosk": {"kiosk_id": case.kiosk.kiosk_id, "name": case.kiosk.name, "village": case.kiosk.village},
        "service": {"service_id": case.service_id, "name_zh": case.service_name_zh, "name_en": case.service_name_en,
                    "promised_working_days": case.promised_working_days},
        "identity": case.identity(),
        "phone": case.phone(),
        "card_photo_jpeg_b64": base64.b64encode(photo).decode() if photo else None,
        "checks": {"face": case.face_outcome, "face_distance": case.face_distance,
                   "face_frames_judged": case.face_frames_judged, "liveness": case.liveness,
                   "fingerprint_enrolled": case.fingerprint_enrolled},
        "papers": [{"paper_id": p.paper_id, "name_zh": p.name_zh, "name_en": p.name_en, "status": p.status}
                   for p in case.papers.all()],
        "files": [{"file_id": f.file_id, "paper_id": f.paper_id, "page": f.page, "content_type": f.content_type,
                   "size": f.size, "sha256": f.sha256, "complete": f.complete,
                   "path": file_path(f) if f.complete else None} for f in case.files.all()],
        "compartment_id": case.compartment_id or None,
        "received_at": case.received_at.isoformat(),
        "collected_at": case.collected_at.isoformat() if case.collected_at else None,
        "collected_by": case.collected_by or None,
        "decision_reason": case.decision_reason or None,
        "result_channel": case.result_channel or None,
        "history": [{"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "from_state": h.from_state,
                     "to_state": h.to_state, "note": h.note} for h in case.history.all()],
    }


def case_zip(case: Case) -> bytes:
    """``case.json`` plus every received scan under ``files/``."""
    import json

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("case.json", json.dumps(case_document(case), ensure_ascii=False, indent=2))
        for f in case.files.filter(complete=True):
            with default_storage.open(f.blob_name) as fh:
                zf.writestr(file_path(f), fh.read(), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()
