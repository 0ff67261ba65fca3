"""Staff accounts: badge UID + PIN, hashed with scrypt and peppered; escalating lock-out.

Why scrypt with a per-staff salt: a copied database file must not give the PINs away, and PINs
are short, so a slow memory-hard hash is the first thing between a copy and a table of all
10^6 PINs. Why the pepper: 10^6 PINs still fall in about 12 h on one core, so the scrypt digest
is stored *encrypted* under the data key (AES-GCM, spec suffix ``+aead``): a copied database alone
cannot be tried offline at all, and a key rotation can re-encrypt it without knowing any PIN
(which a keyed hash could not). Hashes from before the pepper are encrypted in place at start.

Lock-out: 5 wrong PINs lock the badge for 5 minutes, the next 5 for 30 minutes, the next until an
administrator unlocks it (``kiosk staff unlock``); each lock raises a staff alert. The counts live
in the database, so pulling the plug gives no fresh tries; tries on one badge are taken one at a
time and counted before the PIN is checked, so concurrent guesses cannot all be checked. A tap by
an unknown badge is audited too. The hash is compared in constant time.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from devices.errors import KioskError, Recovery
from devices.privacy import mask_uid
from locker.audit import AuditLog
from locker.crypto import Cipher
from locker.db import Database

log = logging.getLogger(__name__)

MAX_TRIES = 5
# Escalating lock-out: 5 wrong PINs lock for 5 minutes, the next 5 for 30, the next until unlocked.
LOCK_STEPS = (300.0, 1800.0)
LOCK_S = LOCK_STEPS[0]
LOCKED_UNTIL_UNLOCKED = 1e15  # "until an administrator unlocks it" (a time no clock reaches)
PEPPER_SUFFIX = "+aead"
PIN_MIN_DIGITS, PIN_MAX_DIGITS = 6, 12
# scrypt cost: n=2^14, r=8 → 16 MiB and ~50 ms on the kiosk PC; stored per row so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class AlertSink(Protocol):
    def enqueue(self, kind: str, title: str, body: str, case_id: str | None = None) -> Any: ...


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
        when = (
            "an administrator unlocks it"
            if until >= LOCKED_UNTIL_UNLOCKED
            else time.strftime("%H:%M:%S", time.localtime(until))
        )
        super().__init__(f"badge locked after {MAX_TRIES} wrong PINs until {when}")
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
    if not (pin.isdigit() and pin.isascii() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS):
        raise BadPin(f"a staff PIN must be {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits")


def normalise_badge(badge_uid: str) -> str:
    """Readers report UIDs as hex in either case, with or without separators."""
    return "".join(ch for ch in badge_uid.upper() if ch in "0123456789ABCDEF")


class StaffAccounts:
    """Staff accounts in the store; see the module doc for the hash, the pepper and the lock-out."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog | None = None,
        *,
        clock: Callable[[], float] = time.time,
        scrypt_n: int = SCRYPT_N,
        cipher: Cipher | None = None,
        alerts: AlertSink | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.cipher = cipher
        self.alerts = alerts
        self._spec = f"scrypt:{scrypt_n}:{SCRYPT_R}:{SCRYPT_P}"
        self._badge_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        ensure_staff_columns(db)
        if cipher is not None:
            self._pepper_legacy_hashes()

    # -- the stored hash --------------------------------------------------------------------------
    def _stored(self, badge: str, digest: bytes) -> tuple[str, bytes]:
        """(kdf spec, stored bytes): the scrypt digest encrypted under the data key when there is one."""
        if self.cipher is None:
            return self._spec, digest
        return self._spec + PEPPER_SUFFIX, self.cipher.encrypt(digest, **_pin_ad(badge))

    def _digest_of(self, row: Any) -> bytes:
        spec = str(row["pin_kdf"])
        stored = bytes(row["pin_hash"])
        if not spec.endswith(PEPPER_SUFFIX):
            return stored
        if self.cipher is None:
            raise StaffError("staff PINs are peppered with the data key; open the staff accounts with the store's key",
                             recovery=Recovery.MAINTENANCE)
        return self.cipher.decrypt(stored, **_pin_ad(row["badge_uid"]))

    def _pepper_legacy_hashes(self) -> None:
        """Hashes from before the pepper are encrypted in place: no PIN is needed to migrate them."""
        assert self.cipher is not None
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT badge_uid, pin_kdf, pin_hash FROM staff WHERE pin_kdf NOT LIKE ?", (f"%{PEPPER_SUFFIX}",)
            ).fetchall()
            for r in rows:
                conn.execute(
                    "UPDATE staff SET pin_kdf = ?, pin_hash = ? WHERE badge_uid = ?",
                    (
                        str(r["pin_kdf"]) + PEPPER_SUFFIX,
                        self.cipher.encrypt(bytes(r["pin_hash"]), **_pin_ad(r["badge_uid"])),
                        r["badge_uid"],
                    ),
                )
        if rows:
            log.info("peppered %d staff PIN hash(es) with the data key", len(rows))

    # -- accounts ---------------------------------------------------------------------------------
    def add_staff(self, badge_uid: str, name: str, pin: str) -> StaffMember:
        badge = normalise_badge(badge_uid)
        if not badge or not name.strip():
            raise StaffError("a staff account needs a badge UID and a name")
        _check_pin(pin)
        salt = secrets.token_bytes(16)
        spec, stored = self._stored(badge, _kdf(pin, salt, self._spec))
        now = self.clock()
        with self.db.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO staff (badge_uid, name, pin_kdf, pin_salt, pin_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (badge, name.strip(), spec, salt, stored, now, now),
                )
            except sqlite3.IntegrityError:
                raise StaffExists(f"badge {mask_uid(badge)} already has an account") from None
            if self.audit is not None:
                self.audit.append("admin", "staff.add", detail={"badge": mask_uid(badge)})
        return StaffMember(badge, name.strip())

    def set_pin(self, badge_uid: str, pin: str, *, actor: str = "admin") -> None:
        """A new PIN; also lifts any lock-out (the admin has just spoken to the person)."""
        badge = normalise_badge(badge_uid)
        _check_pin(pin)
        salt = secrets.token_bytes(16)
        spec, stored = self._stored(badge, _kdf(pin, salt, self._spec))
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE staff SET pin_kdf = ?, pin_salt = ?, pin_hash = ?, failed_tries = 0, locked_until = NULL,"
                " lock_level = 0, updated_at = ? WHERE badge_uid = ? AND active = 1",
                (spec, salt, stored, self.clock(), badge),
            )
            if cur.rowcount != 1:
                raise UnknownBadge(f"no active staff account for badge {mask_uid(badge)}")
            if self.audit is not None:
                self.audit.append(actor, "staff.set_pin", detail={"badge": mask_uid(badge)})

    def unlock(self, badge_uid: str, *, actor: str = "admin") -> None:
        """End a lock-out (the only way out of the third, open-ended one)."""
        badge = normalise_badge(badge_uid)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE staff SET failed_tries = 0, locked_until = NULL, lock_level = 0, updated_at = ?"
                " WHERE badge_uid = ? AND active = 1",
                (self.clock(), badge),
            )
            if cur.rowcount != 1:
                raise UnknownBadge(f"no active staff account for badge {mask_uid(badge)}")
            if self.audit is not None:
                self.audit.append(actor, "staff.unlock", detail={"badge": mask_uid(badge)})

    def deactivate(self, badge_uid: str, *, actor: str = "admin") -> None:
        badge = normalise_badge(badge_uid)
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE staff SET active = 0, updated_at = ? WHERE badge_uid = ?", (self.clock(), badge))
            if cur.rowcount != 1:
                raise UnknownBadge(f"no staff account for badge {mask_uid(badge)}")
            if self.audit is not None:
                self.audit.append(actor, "staff.deactivate", detail={"badge": mask_uid(badge)})

    revoke = deactivate

    def list_staff(self) -> list[StaffMember]:
        rows = self.db.query("SELECT badge_uid, name FROM staff WHERE active = 1 ORDER BY name")
        return [StaffMember(r["badge_uid"], r["name"]) for r in rows]

    def exists(self, badge_uid: str) -> bool:
        row = self.db.query_one("SELECT 1 FROM staff WHERE badge_uid = ? AND active = 1", (normalise_badge(badge_uid),))
        return row is not None

    # -- log-in -----------------------------------------------------------------------------------
    def _badge_lock(self, badge: str) -> threading.Lock:
        with self._locks_guard:
            return self._badge_locks.setdefault(badge, threading.Lock())

    def verify(self, badge_uid: str, pin: str) -> StaffMember:
        """The staff member behind this badge and PIN, or UnknownBadge / WrongPin / BadgeLocked.

        Tries on one badge are taken one at a time, and the try is counted *before* the PIN is
        checked: twenty wrong PINs sent at once get five checks, then the lock.
        """
        badge = normalise_badge(badge_uid)
        with self._badge_lock(badge):
            return self._verify(badge, pin)

    def _verify(self, badge: str, pin: str) -> StaffMember:
        row = self.db.query_one("SELECT * FROM staff WHERE badge_uid = ? AND active = 1", (badge,))
        if row is None:
            _kdf(pin, b"\0" * 16, self._spec)  # same time as a known badge: do not reveal which badges exist
            if self.audit is not None:
                self.audit.append("staff:?", "staff.unknown_badge", detail={"badge": mask_uid(badge)})
            log.warning("staff log-in with unknown badge %s", mask_uid(badge))
            raise UnknownBadge(f"badge {mask_uid(badge)} has no staff account")
        now = self.clock()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM staff WHERE badge_uid = ?", (badge,)).fetchone()
            if row["locked_until"] is not None and now < row["locked_until"]:
                raise BadgeLocked(row["locked_until"])
            expired = row["locked_until"] is not None  # a lock-out that has run out starts a fresh count
            tries = (0 if expired else int(row["failed_tries"])) + 1
            if tries > MAX_TRIES:  # all tries of this round are taken (checks still running elsewhere)
                raise BadgeLocked(now + LOCK_STEPS[0])
            conn.execute("UPDATE staff SET failed_tries = ?, locked_until = NULL WHERE badge_uid = ?", (tries, badge))
        ok = hmac.compare_digest(_kdf(pin, row["pin_salt"], row["pin_kdf"].removesuffix(PEPPER_SUFFIX)),
                                 self._digest_of(row))
        with self.db.transaction() as conn:
            if ok:
                conn.execute(
                    "UPDATE staff SET failed_tries = 0, locked_until = NULL, lock_level = 0 WHERE badge_uid = ?",
                    (badge,),
                )
                if self.audit is not None:
                    self.audit.append(staff_actor(badge), "staff.login", detail={})
                return StaffMember(badge, row["name"])
            level = int(row["lock_level"] or 0)
            until = None
            if tries >= MAX_TRIES:
                level += 1
                until = now + LOCK_STEPS[level - 1] if level <= len(LOCK_STEPS) else LOCKED_UNTIL_UNLOCKED
                conn.execute(
                    "UPDATE staff SET failed_tries = 0, locked_until = ?, lock_level = ? WHERE badge_uid = ?",
                    (until, level, badge),
                )
            if self.audit is not None:
                detail: dict[str, Any] = {"tries": tries}
                if until is not None:
                    detail |= {"lock": level, "until": "unlock" if until >= LOCKED_UNTIL_UNLOCKED else until}
                self.audit.append(staff_actor(badge), "staff.badge_locked" if until else "staff.wrong_pin",
                                  detail=detail)
        if until is not None:
            self._alert_locked(badge, level, until)
            raise BadgeLocked(until)
        raise WrongPin(MAX_TRIES - tries)

    def _alert_locked(self, badge: str, level: int, until: float) -> None:
        how_long = (
            "until an administrator unlocks it (kiosk staff unlock)"
            if until >= LOCKED_UNTIL_UNLOCKED
            else f"for {LOCK_STEPS[level - 1] / 60:.0f} minutes"
        )
        text = f"Staff badge {mask_uid(badge)} locked {how_long} after {MAX_TRIES} wrong PINs (lock-out {level})."
        log.warning("%s", text)
        if self.alerts is not None:
            try:
                self.alerts.enqueue("staff_badge_locked", "员工卡已锁定 Staff badge locked", text)
            except Exception as exc:  # the lock itself is committed; a failed alert must not undo it
                log.error("staff lock-out alert not queued: %s", exc)


def reencrypt_pins(conn: sqlite3.Connection, old: Cipher, new: Cipher) -> int:
    """Key rotation: the peppered PIN hashes move to the new key (inside the rotation's transaction)."""
    rows = conn.execute(
        "SELECT badge_uid, pin_hash FROM staff WHERE pin_kdf LIKE ?", (f"%{PEPPER_SUFFIX}",)
    ).fetchall()
    for r in rows:
        digest = old.decrypt(bytes(r["pin_hash"]), **_pin_ad(r["badge_uid"]))
        conn.execute(
            "UPDATE staff SET pin_hash = ? WHERE badge_uid = ?",
            (new.encrypt(digest, **_pin_ad(r["badge_uid"])), r["badge_uid"]),
        )
    return len(rows)


def ensure_staff_columns(db: Database) -> None:
    """The escalating lock-out's level (added here rather than as a numbered migration: see issue 12)."""
    columns = {r["name"] for r in db.query("PRAGMA table_info(staff)")}
    if columns and "lock_level" not in columns:
        with db.transaction() as conn:
            if "lock_level" not in {r["name"] for r in conn.execute("PRAGMA table_info(staff)")}:
                conn.execute("ALTER TABLE staff ADD COLUMN lock_level INTEGER NOT NULL DEFAULT 0")


def _pin_ad(badge: str) -> dict[str, str]:
    return {"table": "staff", "row": badge, "field": "pin_hash"}


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


def cli_set_pin(
    accounts: StaffAccounts,
    badge_uid: str,
    *,
    read_pin: Callable[[str], str] = getpass.getpass,
    out: Callable[[str], None] = print,
) -> int:
    """``kiosk staff set-pin BADGE``: asks the new PIN twice without echo; returns the exit code."""
    pin = read_pin("new PIN (6-12 digits): ")
    if read_pin("new PIN again: ") != pin:
        out("the two PINs differ; nothing was changed")
        return 2
    try:
        accounts.set_pin(badge_uid, pin)
    except StaffError as exc:
        out(f"not changed: {exc.message}")
        return 1
    out(f"new PIN set for badge {normalise_badge(badge_uid)}")
    return 0
