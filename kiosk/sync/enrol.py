"""``kiosk enrol URL CODE``: trade the admin's one-time code for this kiosk's own credential.

Why a one-time code: the installer carries a short code, never a long-lived secret; the back
office shows the kiosk's secret once, in the enrolment answer, and keeps only its hash. The
credential lands beside the store's key file (``credential.save_credential``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import contract
from devices.errors import ConfigError
from kiosk.config import KioskConfig
from kiosk.sync.client import BackofficeClient
from kiosk.sync.credential import Credential, credential_path, load_credential, new_credential, save_credential
from kiosk.sync.errors import NotEnrolled, SyncError


@dataclass(frozen=True)
class EnrolOutcome:
    credential: Credential
    path: Path
    fresh: bool  # False: --if-needed found a working credential and kept it


def client_for(cfg: KioskConfig, url: str, token: str | None = None) -> BackofficeClient:
    return BackofficeClient(url, token=token, ca_file=cfg.backoffice.ca_file, allow_plain=cfg.simulator.enabled,
                            timeout=cfg.backoffice.timeout_s)


def credential_works(cfg: KioskConfig, cred: Credential, url: str) -> bool:
    """Ask the back office whether it still takes this credential (an empty event batch)."""
    client = client_for(cfg, url, cred.token)
    try:
        client.post_events(contract.EventBatch(cred.kiosk_id, 0.0, ()))
        return True
    except SyncError:
        return False
    finally:
        client.close()


def enrol(cfg: KioskConfig, url: str, code: str, *, force: bool = False, if_needed: bool = False) -> EnrolOutcome:
    url = url.rstrip("/")
    path = credential_path(cfg)
    if path.exists() and not force:
        try:
            existing = load_credential(path)
        except NotEnrolled:
            existing = None
        if existing is not None:
            if if_needed and existing.url == url and credential_works(cfg, existing, url):
                return EnrolOutcome(existing, path, fresh=False)
            if not if_needed:
                raise ConfigError(f"this kiosk is already enrolled as {existing.kiosk_id} with {existing.url} "
                                  f"({path}); add --force to replace that credential")
    client = client_for(cfg, url)
    try:
        answer = client.enrol(code)
    finally:
        client.close()
    cred = new_credential(answer.kiosk_id, answer.credential, answer.kiosk_name, answer.town, url)
    save_credential(path, cred, owner_like=cfg.store.key_file)
    return EnrolOutcome(cred, path, fresh=True)
