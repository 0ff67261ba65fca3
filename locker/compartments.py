"""Compartments: what each door is (size, board/lock address) and what is behind it right now.

The configuration says which compartments exist; the database says what state each one is in,
because that must survive a restart (papers stay in a compartment across a power cut). A
compartment that leaves the configuration is kept as ``retired`` rather than deleted: it may
still hold papers that staff must be able to find.

The resident chooses the size. When that size is full the error names the larger sizes that
still have room, so the screen can offer "the next size up" instead of guessing for them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from devices.errors import ConfigError, KioskError, Recovery
from locker.db import Database

log = logging.getLogger(__name__)


class CompartmentSize(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    @property
    def rank(self) -> int:
        return list(CompartmentSize).index(self)


class CompartmentState(StrEnum):
    FREE = "free"
    RESERVED = "reserved"  # promised to one case for ``reservation_ttl_s``
    HOLDING = "holding"  # papers (or a result) are inside
    OUT_OF_ORDER = "out_of_order"  # jammed, ambiguous unlock, or taken out by staff


class SpecLike(Protocol):
    """``kiosk.config.CompartmentSpec`` or anything shaped like it."""

    @property
    def id(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def board(self) -> int: ...
    @property
    def lock(self) -> int: ...


@dataclass(frozen=True)
class Compartment:
    id: str
    size: CompartmentSize
    board: int
    lock: int
    state: CompartmentState
    case_code: str | None
    purpose: str | None
    note: str
    needs_staff: bool = False  # an unlock could not be settled from the sensors: someone must look
    reserved_until: float | None = None
    retired: bool = False  # no longer in the configuration (kept while it may hold papers)


# -- errors ------------------------------------------------------------------------------------
class LockerServiceError(KioskError):
    """The compartment layer refused or could not do what was asked."""

    recovery = Recovery.STAFF
    code = "lockers.error"


class NoCompartmentFree(LockerServiceError):
    """No free compartment of the chosen size; ``larger_free`` names bigger sizes that have room."""

    recovery = Recovery.USER
    code = "lockers.size_full"

    def __init__(self, size: CompartmentSize, larger_free: dict[CompartmentSize, int]) -> None:
        offer = ", ".join(f"{s.value} ({n} free)" for s, n in larger_free.items()) or "no larger size free"
        super().__init__(f"no {size.value} compartment is free; {offer}")
        self.size = size
        self.larger_free = larger_free


class UnknownCompartment(LockerServiceError):
    """A compartment id that is not configured (a programming or config mistake)."""

    recovery = Recovery.MAINTENANCE
    code = "lockers.unknown_compartment"


class CompartmentNotAvailable(LockerServiceError):
    """The compartment is in a state that does not allow this (e.g. opening someone else's)."""

    code = "lockers.not_available"


class BoardNotAnswering(CompartmentNotAvailable):
    """The compartment's locker board does not answer (no power, cable): nothing was sent to it.

    The resident is given a compartment on a board that answers instead.
    """

    recovery = Recovery.RETRY
    code = "lockers.board_silent"


class CompartmentBusy(LockerServiceError):
    """An unlock of this compartment is still in progress (door open or being opened)."""

    recovery = Recovery.RETRY
    code = "lockers.busy"


class OverrideNeedsReason(LockerServiceError):
    """A staff override without a reason: refused, every override must be explainable later."""

    recovery = Recovery.USER
    code = "lockers.override_reason"


class CompartmentConfigError(LockerServiceError, ConfigError):
    """Two compartments on one lock, an unknown size, or a board the bus does not have."""

    recovery = Recovery.MAINTENANCE
    code = "lockers.config"


# -- table access ------------------------------------------------------------------------------
def row_to_compartment(r: sqlite3.Row) -> Compartment:
    return Compartment(
        id=r["id"],
        size=CompartmentSize(r["size"]),
        board=int(r["board"]),
        lock=int(r["lock"]),
        state=CompartmentState(r["state"]),
        case_code=r["case_code"],
        purpose=r["purpose"],
        note=r["note"],
        needs_staff=bool(r["needs_staff"]),
        reserved_until=r["reserved_until"],
        retired=bool(r["retired"]),
    )


def check_specs(specs: Sequence[SpecLike], boards: Sequence[int]) -> None:
    """Refuse a configuration that would make two doors answer to one lock or address no board."""
    ids: set[str] = set()
    addresses: dict[tuple[int, int], str] = {}
    for spec in specs:
        if spec.id in ids:
            raise CompartmentConfigError(f"compartment {spec.id} is configured twice")
        ids.add(spec.id)
        try:
            CompartmentSize(spec.size)
        except ValueError:
            raise CompartmentConfigError(
                f"compartment {spec.id}: size {spec.size!r} is not one of small/medium/large"
            ) from None
        if spec.board not in boards:
            raise CompartmentConfigError(f"compartment {spec.id}: board {spec.board} is not on the bus {list(boards)}")
        key = (spec.board, spec.lock)
        if key in addresses:
            raise CompartmentConfigError(
                f"compartments {addresses[key]} and {spec.id} both use board {spec.board} lock {spec.lock}"
            )
        addresses[key] = spec.id


def sync_specs(db: Database, specs: Sequence[SpecLike], now: float) -> list[str]:
    """Make the table match the configuration; returns ids retired by this call (for the log).

    New compartments start FREE. A changed size or address is taken over (a rewired door); the
    state is kept, because the papers did not move. Compartments no longer configured are retired.
    """
    retired: list[str] = []
    with db.transaction() as conn:
        known = {r["id"]: r for r in conn.execute("SELECT * FROM compartments")}
        for spec in specs:
            if spec.id in known:
                conn.execute(
                    "UPDATE compartments SET size = ?, board = ?, lock = ?, retired = 0, updated_at = ?"
                    " WHERE id = ? AND (size != ? OR board != ? OR lock != ? OR retired != 0)",
                    (spec.size, spec.board, spec.lock, now, spec.id, spec.size, spec.board, spec.lock),
                )
            else:
                conn.execute(
                    "INSERT INTO compartments (id, size, board, lock, state, updated_at)"
                    " VALUES (?, ?, ?, ?, 'free', ?)",
                    (spec.id, spec.size, spec.board, spec.lock, now),
                )
        wanted = {s.id for s in specs}
        for cid, r in known.items():
            if cid not in wanted and not r["retired"]:
                conn.execute("UPDATE compartments SET retired = 1, updated_at = ? WHERE id = ?", (now, cid))
                retired.append(cid)
    for cid in retired:
        log.warning("compartment %s is no longer configured; kept as retired (state %s)", cid, known[cid]["state"])
    return retired


def load(db: Database, compartment_id: str) -> Compartment:
    r = db.query_one("SELECT * FROM compartments WHERE id = ?", (compartment_id,))
    if r is None:
        raise UnknownCompartment(f"no compartment {compartment_id!r}")
    return row_to_compartment(r)


def load_all(db: Database, *, include_retired: bool = False) -> list[Compartment]:
    sql = "SELECT * FROM compartments" + ("" if include_retired else " WHERE retired = 0") + " ORDER BY id"
    return [row_to_compartment(r) for r in db.query(sql)]


def by_address(db: Database, board: int, lock: int) -> Compartment | None:
    r = db.query_one(
        "SELECT * FROM compartments WHERE board = ? AND lock = ? ORDER BY retired, id LIMIT 1", (board, lock)
    )
    return row_to_compartment(r) if r is not None else None


# Compartments an open case names as holding its papers (committed: the resident's papers wait for
# staff; result_ready: the result waits for the resident). Whatever the compartment row says —
# a collection door that was shut but never confirmed leaves it "free" — these are never allocated:
# the case is the record of what is inside.
HELD_BY_CASE_SQL = (
    "SELECT compartment_id FROM cases WHERE state IN ('committed', 'result_ready') AND compartment_id IS NOT NULL"
)


def held_by_cases(db: Database) -> dict[str, str]:
    """compartment id → case code, for every compartment an open case says holds its papers."""
    return {
        r["compartment_id"]: r["case_code"]
        for r in db.query(
            "SELECT compartment_id, case_code FROM cases WHERE state IN ('committed', 'result_ready')"
            " AND compartment_id IS NOT NULL ORDER BY id"
        )
    }


def boards_sql(boards: Collection[int]) -> str:
    """`` AND board NOT IN (…)`` for the boards that do not answer (ints only: safe to inline)."""
    return f" AND board NOT IN ({', '.join(str(int(b)) for b in sorted(boards))})" if boards else ""


def free_counts(db: Database, silent_boards: Collection[int] = ()) -> dict[CompartmentSize, int]:
    """Free compartments per size that can be given out now (not on a board that is silent)."""
    counts = {s: 0 for s in CompartmentSize}
    for r in db.query(
        "SELECT size, COUNT(*) AS n FROM compartments WHERE state = 'free' AND retired = 0"
        f" AND id NOT IN ({HELD_BY_CASE_SQL}){boards_sql(silent_boards)} GROUP BY size"
    ):
        counts[CompartmentSize(r["size"])] = int(r["n"])
    return counts


def set_state(
    conn: sqlite3.Connection,
    compartment_id: str,
    state: CompartmentState,
    now: float,
    *,
    case_code: str | None = None,
    purpose: str | None = None,
    note: str = "",
    needs_staff: bool = False,
    reserved_until: float | None = None,
) -> None:
    """Write the whole state of one compartment (inside the caller's transaction)."""
    conn.execute(
        "UPDATE compartments SET state = ?, case_code = ?, purpose = ?, note = ?, needs_staff = ?,"
        " reserved_until = ?, updated_at = ? WHERE id = ?",
        (state.value, case_code, purpose, note, int(needs_staff), reserved_until, now, compartment_id),
    )
