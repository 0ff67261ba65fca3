"""Every change to kiosk records: creation, one-time enrol codes, enrolment, revocation, and the
refusals of requests whose credential did not hold."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets

from django.db import transaction
from django.utils import timezone

import contract
from backoffice.accounts.models import Town
from backoffice.kiosks.models import AuthRefusal, Kiosk

log = logging.getLogger("backoffice.kiosks")

ENROL_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
ENROL_CODE_LIFETIME = dt.timedelta(days=7)


def _new_enrol_code() -> str:
    raw = "".join(secrets.choice(ENROL_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _normalise_code(code: str) -> str:
    """Typed by a person: case, spaces and dashes do not matter."""
    return code.strip().upper().replace(" ", "").replace("-", "")


@transaction.atomic
def create_kiosk(*, kiosk_id: str, name: str, town: Town, village: str) -> tuple[Kiosk, str]:
    """A new kiosk and its one-time enrol code, returned once (only its hash is kept)."""
    if not contract.KIOSK_ID_RE.match(kiosk_id):
        raise ValueError(f"kiosk id {kiosk_id!r}: lower-case letters, digits and '-' only")
    kiosk = Kiosk.objects.create(kiosk_id=kiosk_id, name=name, town=town, village=village)
    return kiosk, issue_enrol_code(kiosk)


@transaction.atomic
def issue_enrol_code(kiosk: Kiosk) -> str:
    """A fresh one-time code (replacing any earlier one); enrolling with it replaces the credential.

    A revoked kiosk stays revoked until the code is used: the old credential (perhaps on a stolen
    disk) must not work again in the meantime, so only ``enrol`` clears the revocation.
    """
    code = _new_enrol_code()
    kiosk.enrol_code_hash = contract.credential_hash(_normalise_code(code))
    kiosk.enrol_code_expires = timezone.now() + ENROL_CODE_LIFETIME
    kiosk.save(update_fields=["enrol_code_hash", "enrol_code_expires"])
    log.info("enrol code issued for kiosk %s", kiosk.kiosk_id)
    return code


@transaction.atomic
def enrol(request: contract.EnrolRequest, *, remote_addr: str = "") -> contract.EnrolResponse:
    """Exchange a one-time code for the kiosk's own credential. The code works once."""
    code_hash = contract.credential_hash(_normalise_code(request.code))
    kiosk = Kiosk.objects.select_for_update().filter(enrol_code_hash=code_hash).first()
    if kiosk is None or kiosk.enrol_code_expires is None or kiosk.enrol_code_expires < timezone.now():
        refuse(None, "", "kiosk.enrol_code_invalid", remote_addr, "/api/v1/enrol")
        raise contract.ContractError("kiosk.enrol_code_invalid",
                                     "this enrol code is unknown, used or expired; ask the administrator for a new one",
                                     status=401)
    secret = secrets.token_urlsafe(32)
    kiosk.credential_hash = contract.credential_hash(secret)
    kiosk.enrol_code_hash = ""
    kiosk.enrol_code_expires = None
    kiosk.enrolled_at = timezone.now()
    kiosk.revoked_at = None  # the new secret replaced the revoked one
    kiosk.software_version = request.software_version
    kiosk.save()
    log.info("kiosk %s enrolled (software %s)", kiosk.kiosk_id, request.software_version)
    return contract.EnrolResponse(kiosk_id=kiosk.kiosk_id, credential=f"{kiosk.kiosk_id}.{secret}",
                                  kiosk_name=kiosk.name, town=kiosk.town.name)


@transaction.atomic
def revoke(kiosk: Kiosk) -> None:
    """Refuse the kiosk from its next request on; a new enrol code brings it back."""
    kiosk.revoked_at = timezone.now()
    kiosk.enrol_code_hash = ""
    kiosk.save(update_fields=["revoked_at", "enrol_code_hash"])
    log.warning("kiosk %s revoked", kiosk.kiosk_id)


def refuse(kiosk: Kiosk | None, claimed_id: str, code: str, remote_addr: str, path: str) -> None:
    """Record and log a refused credential (in its own transaction: it must outlive the refusal)."""
    with transaction.atomic():
        AuthRefusal.objects.create(kiosk=kiosk, claimed_id=claimed_id[:63], code=code, remote_addr=remote_addr[:60],
                                   path=path[:200])
    log.warning("kiosk request refused: %s claimed=%r from %s %s", code, claimed_id[:63], remote_addr, path)


def authenticate(token: str, *, remote_addr: str, path: str) -> Kiosk:
    """``Bearer`` token → the kiosk, or ``ContractError`` 401 (recorded and logged)."""
    try:
        kiosk_id, secret = contract.split_credential(token)
    except contract.ContractError:
        refuse(None, token.partition(".")[0], "kiosk.credential_invalid", remote_addr, path)
        raise
    kiosk = Kiosk.objects.filter(kiosk_id=kiosk_id).select_related("town").first()
    if kiosk is None or not kiosk.credential_hash or not hmac.compare_digest(
            kiosk.credential_hash, contract.credential_hash(secret)):
        refuse(kiosk, kiosk_id, "kiosk.credential_invalid", remote_addr, path)
        raise contract.ContractError("kiosk.credential_invalid", "the kiosk credential is not valid", status=401)
    if kiosk.revoked_at is not None:
        refuse(kiosk, kiosk_id, "kiosk.revoked", remote_addr, path)
        raise contract.ContractError("kiosk.revoked", "this kiosk has been revoked; ask the administrator to enrol it "
                                     "again", status=401)
    return kiosk


def seen(kiosk: Kiosk, *, clock_skew_s: float, software_version: str | None = None) -> None:
    """Note the kiosk's last contact and clock offset (written at most every 30 s, or on a skew change)."""
    now = timezone.now()
    if (kiosk.last_seen is None or now - kiosk.last_seen > dt.timedelta(seconds=30)
            or abs(kiosk.clock_skew_s - clock_skew_s) > 60):
        Kiosk.objects.filter(pk=kiosk.pk).update(last_seen=now, clock_skew_s=clock_skew_s)
        kiosk.last_seen, kiosk.clock_skew_s = now, clock_skew_s
