"""Staff accounts: badge UID + PIN, hashed with scrypt, locked for 5 minutes after 5 wrong PINs.

Why scrypt with a per-staff salt: a copied database file must not give the PINs away, and PINs
are short, so a slow memory-hard hash is the only thing between a copy and a table of all
10^6 PINs. The failed-try count and the lock-out end live in the database, so pulling the plug
does not give an attacker five fresh tries. The PIN is checked only when the badge is not
locked, and the hash is compared in constant time.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from devices.errors import KioskError, Recovery
from devices.privacy import mask_uid
from locker.audit import AuditLog
from locker.db import Database

log = logging.getLogger(__name__)

MAX_TRIES = 5
LOCK_S = 300.0
# scrypt cost: n=2^14, r=8 → 16 MiB and ~50 ms on the kiosk PC; stored per row so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class StaffError(KioskError):
    recovery = Recovery.USER
    code = "staff.error"


class UnknownBadge(StaffError):
    """No active staff account for this badge."""

    code = "staff.unknown_badge"


class WrongPin(StaffError):
    """Wrong PIN; ``tries_left`` before the badge locks."""

    code = "staff.wrong_pin"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN; {tries_left} tries left before the badge locks")
        self.tries_left = tries_left


class BadgeLocked(StaffError):
    """Too many wrong PINs; the badge works again at ``until`` (clock time)."""

    code = "staff.badge_locked"

    def __init__(self, until: float) -> None:
        super().__init__(
            f"badge locked after {MAX_TRIES} wrong PINs until {time.strftime('%H:%M:%S', time.localtime(until))}"
        )
        self.until = until


class BadPin(StaffError):
    """A new PIN that is not 6–12 digits."""

    code = "staff.bad_pin"


class StaffExists(StaffError):
    code = "staff.exists"


@dataclass(frozen=True)
class StaffMember:
    badge_uid: str
    name: str

    @property
    def actor(self) -> str:
        """How this person appears in the audit log (no name: the log outlives staff turnover)."""
        return staff_actor(self.badge_uid)


def staff_actor(badge_uid: str) -> str:
    """``staff:04****C3``: the audit log and the journal never hold a full badge UID (a cloner's input)."""
    return f"staff:{mask_uid(badge_uid)}"


def _kdf(pin: str, salt: bytes, spec: str) -> bytes:
    name, n, r, p = spec.split(":")
    if name != "scrypt":
        raise StaffError(f"unknown PIN hash {name!r}", recovery=Recovery.MAINTENANCE)
    return hashlib.scrypt(pin.encode(), salt=salt, n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024, dklen=32)


def _check_pin(pin: str) -> None:
    if not (pin.isdigit() and pin.isascii() and 6 <= len(pin) <= 12):
        raise BadPin("a staff PIN must be 6 to 12 digits")


def normalise_badge(badge_uid: str) -> str:
    """Readers report UIDs as hex in either case, with or without separators."""
    return "".join(ch for ch in badge_uid.upper() if ch in "0123456789ABCDEF")


class StaffAccounts:
    def __init__(
        self,
        db: Database,
        audit: AuditLog | None = None,
        *,
        clock: Callable[[], float] = time.time,
        scrypt_n: int = SCRYPT_N,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self._spec = f"scrypt:{scrypt_n}:{SCRYPT_R}:{SCRYPT_P}"

    def add_staff(self, badge_uid: str, name: str, pin: str) -> StaffMember:
        badge = normalise_badge(badge_uid)
        if not badge or not name.strip():
            raise StaffError("a staff account needs a badge UID and a name")
        _check_pin(pin)
        salt = secrets.token_bytes(16)
        digest = _kdf(pin, salt, self._spec)
        now = self.clock()
        with self.db.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO staff (badge_uid, name, pin_kdf, pin_salt, pin_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (badge, name.strip(), self._spec, salt, digest, now, now),
                )
            except sqlite3.IntegrityError:
                raise StaffExists(f"badge {badge} already has an account") from None
            if self.audit is not None:
                self.audit.append("admin", "staff.add", detail={"badge": mask_uid(badge)})
        return StaffMember(badge, name.strip())

    def set_pin(self, badge_uid: str, pin: str, *, actor: str = "admin") -> None:
        badge = normalise_badge(badge_uid)
        _check_pin(pin)
        salt = secrets.token_bytes(16)
        digest = _kdf(pin, salt, self._spec)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE staff SET pin_kdf = ?, pin_salt = ?, pin_hash = ?, failed_tries = 0, locked_until = NULL,"
                " updated_at = ? WHERE badge_uid = ?",
                (self._spec, salt, digest, self.clock(), badge),
            )
            if cur.rowcount != 1:
                raise UnknownBadge(f"no staff account for badge {badge}")
            if self.audit is not None:
                self.audit.append(actor, "staff.set_pin", detail={"badge": mask_uid(badge)})

    def deactivate(self, badge_uid: str, *, actor: str = "admin") -> None:
        badge = normalise_badge(badge_uid)
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE staff SET active = 0, updated_at = ? WHERE badge_uid = ?", (self.clock(), badge))
            if cur.rowcount != 1:
                raise UnknownBadge(f"no staff account for badge {badge}")
            if self.audit is not None:
                self.audit.append(actor, "staff.deactivate", detail={"badge": mask_uid(badge)})

    def list_staff(self) -> list[StaffMember]:
        rows = self.db.query("SELECT badge_uid, name FROM staff WHERE active = 1 ORDER BY name")
        return [StaffMember(r["badge_uid"], r["name"]) for r in rows]

    def verify(self, badge_uid: str, pin: str) -> StaffMember:
        """The staff member behind this badge and PIN, or UnknownBadge / WrongPin / BadgeLocked."""
        badge = normalise_badge(badge_uid)
        row = self.db.query_one("SELECT * FROM staff WHERE badge_uid = ? AND active = 1", (badge,))
        if row is None:
            _kdf(pin, b"\0" * 16, self._spec)  # same time as a known badge: do not reveal which badges exist
            raise UnknownBadge(f"badge {mask_uid(badge)} has no staff account")
        now = self.clock()
        if row["locked_until"] is not None and now < row["locked_until"]:
            raise BadgeLocked(row["locked_until"])
        ok = hmac.compare_digest(_kdf(pin, row["pin_salt"], row["pin_kdf"]), row["pin_hash"])
        with self.db.transaction() as conn:
            if ok:
                conn.execute("UPDATE staff SET failed_tries = 0, locked_until = NULL WHERE badge_uid = ?", (badge,))
                if self.audit is not None:
                    self.audit.append(staff_actor(badge), "staff.login", detail={})
                return StaffMember(badge, row["name"])
            # A lock-out that has run out starts a fresh count.
            expired = row["locked_until"] is not None
            tries = (0 if expired else int(row["failed_tries"])) + 1
            until = now + LOCK_S if tries >= MAX_TRIES else None
            conn.execute(
                "UPDATE staff SET failed_tries = ?, locked_until = ? WHERE badge_uid = ?",
                (0 if until else tries, until, badge),
            )
            if self.audit is not None:
                self.audit.append(
                    staff_actor(badge), "staff.badge_locked" if until else "staff.wrong_pin", detail={"tries": tries}
                )
        if until is not None:
            log.warning("staff badge %s locked for %.0f s after %d wrong PINs", mask_uid(badge), LOCK_S, MAX_TRIES)
            raise BadgeLocked(until)
        raise WrongPin(MAX_TRIES - tries)


def cli_add_staff(
    accounts: StaffAccounts,
    badge_uid: str,
    name: str,
    *,
    read_pin: Callable[[str], str] = getpass.getpass,
    out: Callable[[str], None] = print,
) -> int:
    """``kiosk staff add BADGE NAME``: asks the PIN twice without echo; returns the exit code."""
    pin = read_pin("PIN (6-12 digits): ")
    if read_pin("PIN again: ") != pin:
        out("the two PINs differ; nothing was saved")
        return 2
    try:
        member = accounts.add_staff(badge_uid, name, pin)
    except StaffError as exc:
        out(f"not added: {exc.message}")
        return 1
    out(f"staff {member.name} added for badge {member.badge_uid}")
    return 0
