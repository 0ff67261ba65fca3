"""What the back-office tests share: a town with kiosks and users, real PDFs, case packages."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

import contract

PASSWORD = "correct-horse-battery"


def make_pdf(pages: int, label: str = "page", size: tuple[int, int] = (620, 877)) -> bytes:
    """A real multi-page PDF (what the kiosk's scanner sends), each page numbered in big digits."""
    images = []
    for i in range(pages):
        im = Image.new("RGB", size, (255, 255, 255))
        d = ImageDraw.Draw(im)
        d.rectangle([20, 20, size[0] - 20, size[1] - 20], outline=(0, 0, 0), width=6)
        d.text((60, 60), f"{label} {i + 1}", fill=(0, 0, 0), font_size=72)
        images.append(im)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def noise_pdf(target_bytes: int, label: str = "scan") -> bytes:
    """A PDF of about ``target_bytes`` (a noisy photo-like page compresses badly, like a real scan)."""
    import random

    rnd = random.Random(target_bytes)
    side = int((target_bytes / 3) ** 0.5) + 1
    im = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    out = io.BytesIO()
    im.save(out, "PDF", resolution=150)
    return out.getvalue()


@dataclass
class Town:
    town: Any
    other_town: Any
    kiosk: Any
    village_kiosk: Any
    other_kiosk: Any
    token: str
    village_token: str
    other_token: str
    users: dict[str, Any] = field(default_factory=dict)


def make_town() -> Town:
    """七都 with a centre kiosk and a village kiosk (both enrolled), 盛泽 with one, and a user per role."""
    from backoffice.accounts import actions as accounts
    from backoffice.kiosks import actions as kiosks

    qidu = accounts.ensure_town("qidu", "七都")
    shengze = accounts.ensure_town("shengze", "盛泽")

    def enrolled(kiosk_id: str, name: str, town: Any, village: str) -> tuple[Any, str]:
        k, code = kiosks.create_kiosk(kiosk_id=kiosk_id, name=name, town=town, village=village)
        answer = kiosks.enrol(contract.EnrolRequest(code, "test"))
        k.refresh_from_db()
        return k, answer.credential

    centre, t1 = enrolled("qidu-centre", "七都中心", qidu, "七都镇区")
    village, t2 = enrolled("qidu-kaixiangong", "开弦弓村", qidu, "开弦弓村")
    other, t3 = enrolled("shengze-centre", "盛泽中心", shengze, "盛泽镇区")
    t = Town(qidu, shengze, centre, village, other, t1, t2, t3)
    for name, role, town, served in [("clerk", "clerk", qidu, None), ("super", "supervisor", qidu, None),
                                     ("staff", "kiosk_staff", qidu, [village]), ("admin", "admin", qidu, None),
                                     ("platform", "platform", qidu, None), ("sz-clerk", "clerk", shengze, None)]:
        t.users[name] = accounts.ensure_user(name, town=town, role=role, password=PASSWORD, kiosks=served)
    return t


RESIDENT_NAME = "欧阳小明"
RESIDENT_ID = "320584199001011234"
RESIDENT_PHONE = "13912345678"


def package(case_code: str = "C3MRU76E", kiosk_id: str = "qidu-centre", *, files: dict[str, bytes] | None = None,
            service: tuple[str, str, str, int] = ("birth-cert", "出生医学证明", "Birth certificate", 5),
            committed_at: float | None = None, **over: Any) -> dict[str, Any]:
    """A case package as the kiosk sends it; ``files`` maps a file id (paper id + '-n') to its bytes."""
    files = files if files is not None else {"id_copy-1": make_pdf(2, "ID"), "form-1": make_pdf(1, "FORM")}
    papers = {fid.rsplit("-", 1)[0] for fid in files}
    now = committed_at if committed_at is not None else time.time()
    pkg = contract.CasePackage(
        case_code=case_code, kiosk_id=kiosk_id,
        service=contract.Service(*service),
        identity=contract.IdentityData(RESIDENT_NAME, RESIDENT_ID, "男", "汉", "20301231"),
        card_photo_jpeg_b64=base64.b64encode(b"\xff\xd8\xff\xe0card-photo").decode(),
        phone=RESIDENT_PHONE,
        checks=contract.Checks(contract.FaceOutcome.MATCHED, 0.38, 9, "blink", True),
        papers=tuple(contract.Paper(p, f"纸件{p}", f"Paper {p}", "scanned") for p in sorted(papers))
        + (contract.Paper("hukou", "户口簿", "Household register", "deferred"),),
        files=tuple(contract.ScanFile(fid, fid.rsplit("-", 1)[0], int(fid.rsplit("-", 1)[1]), "application/pdf",
                                      len(data), hashlib.sha256(data).hexdigest()) for fid, data in files.items()),
        compartment_id="A03", receipt_printed=True, created_at=now - 240, committed_at=now,
    ).to_json()
    pkg.update(over)
    return pkg


def kiosk_headers(token: str, *, skew_s: float = 0.0) -> dict[str, str]:
    """Django test-client headers of a kiosk call (``skew_s``: how far the kiosk's clock is off)."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_KIOSK_TIME": str(time.time() + skew_s)}


def deliver(client: Any, token: str, pkg: dict[str, Any], files: dict[str, bytes] | None = None, *,
            skew_s: float = 0.0, chunk: int = contract.MAX_CHUNK_BYTES) -> Any:
    """PUT the package, then every file in chunks, as the contract defines it (Django test client)."""
    import json

    r = client.put(f"/api/v1/cases/{pkg['case_code']}", json.dumps(pkg), content_type="application/json",
                   **kiosk_headers(token, skew_s=skew_s))
    assert r.status_code in (200, 201), r.content
    for fid, data in (files or {}).items():
        for start in range(0, len(data), chunk):
            part = data[start:start + chunk]
            rr = client.put(f"/api/v1/cases/{pkg['case_code']}/files/{fid}", part,
                            content_type="application/octet-stream",
                            HTTP_CONTENT_RANGE=contract.content_range(start, start + len(part), len(data)),
                            **kiosk_headers(token, skew_s=skew_s))
            assert rr.status_code == 200, rr.content
    return r


def postgres_env() -> dict[str, str]:
    """Environment for a back-office subprocess on the test database (what Django here uses)."""
    from django.db import connection

    d = connection.settings_dict
    return {"BACKOFFICE_DB_NAME": str(d["NAME"]), "BACKOFFICE_DB_HOST": str(d["HOST"]),
            "BACKOFFICE_DB_PORT": str(d["PORT"]), "BACKOFFICE_DB_USER": str(d["USER"])}
