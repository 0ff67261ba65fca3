"""Scanned pages as encrypted files beside the database, each with its SHA-256 in the database.

The file holds the AES-GCM blob (see ``crypto``), so the checksum is over the bytes on disk and
``verify`` needs no key: a missing, truncated or altered file is found by a plain hash. Files are
written encrypt-then-write atomically (``fsutil.atomic_write``) and only then recorded, so a row
never points at a half-written file; a crash in between leaves an unreferenced file, which
``orphans()`` lists.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from locker.crypto import Cipher
from locker.errors import ScanIntegrityError, StoreError
from locker.fsutil import atomic_write

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class ScanRef:
    rel_path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ScanProblem:
    case_code: str
    paper_id: str
    page: int
    rel_path: str
    kind: str  # "missing" or "altered"

    def __str__(self) -> str:
        return f"case {self.case_code} paper {self.paper_id} page {self.page}: {self.kind} ({self.rel_path})"


def _safe(part: str) -> str:
    cleaned = _SAFE.sub("_", part)
    if not cleaned or cleaned in {".", ".."}:
        raise StoreError(f"unusable name for a scan path: {part!r}")
    return cleaned


class ScanStore:
    """Directory of encrypted scan files: ``<root>/<case_code>/<paper>.<digest of paper id>-<page>.bin``."""

    def __init__(self, root: str | Path, cipher: Cipher) -> None:
        self.root = Path(root)
        self.cipher = cipher

    def _ad(self, case_code: str, paper_id: str, page: int) -> dict[str, str]:
        return {"table": "scan_files", "row": f"{case_code}/{paper_id}/{page}", "field": "content"}

    def write(self, case_code: str, paper_id: str, page: int, data: bytes) -> ScanRef:
        # Paper ids are often Chinese ("身份证", "户口本"), which _safe() flattens to the same "___":
        # a digest of the exact id keeps two papers of one case in two files.
        tag = hashlib.sha256(paper_id.encode()).hexdigest()[:12]
        rel = f"{_safe(case_code)}/{_safe(paper_id)[:40]}.{tag}-{page:d}.bin"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = self.cipher.encrypt(data, **self._ad(case_code, paper_id, page))
        atomic_write(path, blob)
        return ScanRef(rel, hashlib.sha256(blob).hexdigest(), len(blob))

    def read(self, case_code: str, paper_id: str, page: int, ref: ScanRef) -> bytes:
        path = self.path(ref.rel_path)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise ScanIntegrityError(f"scan file {path} is missing") from None
        if hashlib.sha256(blob).hexdigest() != ref.sha256:
            raise ScanIntegrityError(f"scan file {path} does not match its recorded checksum")
        return self.cipher.decrypt(blob, **self._ad(case_code, paper_id, page))

    def check(self, rel_path: str, sha256: str) -> str | None:
        """None when the file is intact, else "missing" or "altered"."""
        try:
            h = hashlib.sha256()
            with open(self.path(rel_path), "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except FileNotFoundError:
            return "missing"
        return None if h.hexdigest() == sha256 else "altered"

    def path(self, rel_path: str) -> Path:
        """The file of a row, refused (StoreError) unless it stays under ``scans/``.

        ``rel_path`` comes from the database; a row edited to ``../../x`` must not make the
        retention sweep delete, or a read open, a file outside the scans folder.
        """
        candidate = self.root / rel_path
        root = self.root.resolve()
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as exc:
            raise StoreError(f"scan path {rel_path!r} cannot be resolved: {exc}") from exc
        if Path(rel_path).is_absolute() or ".." in Path(rel_path).parts or root not in resolved.parents:
            raise StoreError(f"scan path {rel_path!r} leads outside {self.root}; refused")
        return candidate

    def read_raw(self, rel_path: str, case_code: str, paper_id: str, page: int) -> bytes:
        """Decrypt a file by its path (key rotation); the checksum is checked by the caller's verify."""
        return self.cipher.decrypt(self.path(rel_path).read_bytes(), **self._ad(case_code, paper_id, page))

    def encrypt_blob(self, case_code: str, paper_id: str, page: int, data: bytes) -> bytes:
        return self.cipher.encrypt(data, **self._ad(case_code, paper_id, page))

    def all_files(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {p.relative_to(self.root).as_posix() for p in self.root.glob("*/*.bin")}
