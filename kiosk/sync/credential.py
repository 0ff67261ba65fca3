"""The kiosk's own back-office credential, kept beside the store's key file.

Why beside the key: both are the kiosk's secrets, backed up and restored together, outside the data
folder (a copy of the data alone can neither decrypt nor impersonate). The file is written
atomically with mode 0600 and the key file's owner, so the service user that reads the key reads
this too and nobody else does. It never enters the database or a log.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from contract import KIOSK_ID_RE, split_credential
from kiosk.config import KioskConfig
from kiosk.sync.errors import NotEnrolled
from locker.fsutil import atomic_write

FILE_NAME = "backoffice.credential"


@dataclass(frozen=True)
class Credential:
    kiosk_id: str
    token: str  # "<kiosk_id>.<secret>", sent as the Bearer token
    kiosk_name: str
    town: str
    url: str  # the back office it was issued by
    enrolled_at: float

    def __repr__(self) -> str:  # the secret must never reach a log or a traceback
        return f"Credential(kiosk_id={self.kiosk_id!r}, url={self.url!r})"


def credential_path(cfg: KioskConfig) -> Path:
    bo = cfg.backoffice
    return bo.credential_file if bo.credential_file is not None else cfg.store.key_file.parent / FILE_NAME


def save_credential(path: Path, cred: Credential, *, owner_like: Path | None = None) -> None:
    """Write atomically, 0600; owned like ``owner_like`` (the key file) when we may chown."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, json.dumps(asdict(cred), ensure_ascii=False).encode(), mode=0o600)
    os.chmod(path, 0o600)
    if owner_like is not None and owner_like.exists():
        st = owner_like.stat()
        with contextlib.suppress(PermissionError):
            os.chown(path, st.st_uid, st.st_gid)


def load_credential(path: Path) -> Credential:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotEnrolled(f"this kiosk is not enrolled with a back office yet ({path} does not exist); "
                          "run `kiosk enrol URL CODE` with the one-time code from the back office's admin") from None
    except (OSError, ValueError) as exc:
        raise NotEnrolled(f"the back-office credential {path} is unreadable ({exc}); enrol again") from exc
    try:
        cred = Credential(**{k: data[k] for k in Credential.__dataclass_fields__})
        kiosk_id, _ = split_credential(cred.token)
    except Exception as exc:
        raise NotEnrolled(f"the back-office credential {path} is damaged; enrol again") from exc
    if kiosk_id != cred.kiosk_id or not KIOSK_ID_RE.match(kiosk_id):
        raise NotEnrolled(f"the back-office credential {path} does not match its kiosk id; enrol again")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: tighten again rather than refuse to work
    return cred


def new_credential(kiosk_id: str, token: str, kiosk_name: str, town: str, url: str) -> Credential:
    return Credential(kiosk_id, token, kiosk_name, town, url, time.time())
