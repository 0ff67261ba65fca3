"""Numbered schema migrations, recorded in ``PRAGMA user_version``.

Migration N (1-based) is ``MIGRATIONS[N - 1]``: a tuple of statements applied in ONE transaction
together with ``PRAGMA user_version = N`` (user_version is transactional in SQLite), so a crash
leaves the file at N-1 or N, never in between. Append new migrations; never edit a released one.
A file whose user_version is higher than ``len(MIGRATIONS)`` came from a newer release. Most
migrations only add (tables, nullable columns, indexes), which older code ignores, so an older
release keeps using such a file: that is what makes ``kiosk rollback`` after an update possible.
A migration an older program could corrupt or misread goes in ``BREAKING`` with the release-notes
line that says so; the file records (table ``schema_compat``) the lowest schema a program must know
to open it, and the note, so an older release refuses it with that message, and so does the
rollback. A newer file without that record (written before it existed) is refused.
"""

from __future__ import annotations

import sqlite3

from locker.errors import SchemaTooNew, StoreError

CASE_STATES = (
    "draft",
    "committed",
    "collected",
    "processing",
    "result_ready",
    "result_collected",
    "closed",
    "cancelled",
)

_STATES_SQL = ", ".join(f"'{s}'" for s in CASE_STATES)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: cases, papers, scan files, audit chain, outbox
    (
        f"""CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            case_code TEXT NOT NULL UNIQUE,
            pickup_mac TEXT NOT NULL,
            service_id TEXT NOT NULL,
            required_papers TEXT NOT NULL DEFAULT '[]',
            compartment_id TEXT,
            state TEXT NOT NULL CHECK (state IN ({_STATES_SQL})),
            identity_enc BLOB,
            photo_enc BLOB,
            fingerprint_enc BLOB,
            id_masked TEXT,
            name_masked TEXT,
            created_at REAL NOT NULL,
            committed_at REAL,
            collected_at REAL,
            processing_at REAL,
            result_ready_at REAL,
            result_collected_at REAL,
            closed_at REAL,
            cancelled_at REAL,
            updated_at REAL NOT NULL,
            purged_at REAL
        )""",
        "CREATE INDEX cases_by_state ON cases(state, committed_at)",
        "CREATE INDEX cases_by_pickup ON cases(pickup_mac)",
        "CREATE INDEX cases_to_purge ON cases(collected_at) WHERE purged_at IS NULL",
        """CREATE TABLE case_papers (
            case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('scanned', 'deferred')),
            updated_at REAL NOT NULL,
            PRIMARY KEY (case_id, paper_id)
        )""",
        """CREATE TABLE scan_files (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL,
            page INTEGER NOT NULL,
            rel_path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL,
            purged_at REAL,
            UNIQUE (case_id, paper_id, page)
        )""",
        """CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            case_code TEXT,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            case_code TEXT,
            target TEXT NOT NULL,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            leased_until REAL,
            last_error TEXT,
            delivered_at REAL
        )""",
        "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE delivered_at IS NULL",
    ),
    # 2: compartments, the unlock transaction log, staff accounts
    (
        """CREATE TABLE compartments (
            id TEXT PRIMARY KEY,
            size TEXT NOT NULL CHECK (size IN ('small', 'medium', 'large')),
            board INTEGER NOT NULL,
            lock INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('free', 'reserved', 'holding', 'out_of_order')),
            case_code TEXT,
            purpose TEXT,
            reserved_until REAL,
            needs_staff INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '',
            retired INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE unlock_tx (
            id INTEGER PRIMARY KEY,
            compartment_id TEXT NOT NULL REFERENCES compartments(id),
            board INTEGER NOT NULL,
            lock INTEGER NOT NULL,
            case_code TEXT,
            purpose TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            state TEXT NOT NULL CHECK (state IN ('intent', 'pulse_sent', 'door_opened', 'door_closed',
                'settled_closed', 'not_sent', 'jammed', 'refused', 'ambiguous', 'resolved')),
            created_at REAL NOT NULL,
            pulse_sent_at REAL,
            door_opened_at REAL,
            door_closed_at REAL,
            finished_at REAL,
            left_open_alerted_at REAL,
            result TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX unlock_tx_unfinished ON unlock_tx(compartment_id)"
        " WHERE state IN ('intent', 'pulse_sent', 'door_opened', 'ambiguous')",
        """CREATE TABLE staff (
            badge_uid TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            pin_kdf TEXT NOT NULL,
            pin_salt BLOB NOT NULL,
            pin_hash BLOB NOT NULL,
            failed_tries INTEGER NOT NULL DEFAULT 0,
            locked_until REAL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ),
    # 3: delivery of committed cases to the back office (kiosk/sync): one row per case, queued in
    # the commit's own transaction; plus the sync's small state (event cursor, revocation).
    (
        """CREATE TABLE deliveries (
            case_code TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            package_enc BLOB,
            package_sha256 TEXT,
            last_error TEXT,
            error_code TEXT,
            refused_at REAL,
            alerted_at REAL,
            acknowledged_at REAL
        )""",
        "CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE acknowledged_at IS NULL",
        "INSERT INTO deliveries (case_code, created_at, next_attempt_at) SELECT case_code, committed_at,"
        " committed_at FROM cases WHERE committed_at IS NOT NULL AND purged_at IS NULL",
        """CREATE TABLE sync_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ),
)

LATEST = len(MIGRATIONS)

#: Migrations after which an older program must not open the file: version → release-notes line,
#: e.g. {5: "0.4.0 rewrites case states; going back to 0.3 needs the backup taken by make install"}.
BREAKING: dict[int, str] = {}

_COMPAT_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_compat (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "floor INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '')"
)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def compat_floor(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(lowest schema a program must know to open this file, release note), or None if unrecorded."""
    try:
        row = conn.execute("SELECT floor, note FROM schema_compat WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # no such table: written before compatibility was recorded
        return None
    return None if row is None else (int(row[0]), str(row[1]))


def migrate(conn: sqlite3.Connection, path: str, migrations: tuple[tuple[str, ...], ...] = MIGRATIONS,
            breaking: dict[int, str] | None = None) -> int:
    """Bring an autocommit connection up to the latest version; return the version reached.

    A file from a newer release is left as it is and used when its recorded floor says this
    program may (see the module doc); otherwise it is refused before anything is written.
    """
    breaking = BREAKING if breaking is None else breaking
    latest = len(migrations)
    current = user_version(conn)
    if current > latest:
        floor = compat_floor(conn)
        if floor is not None and floor[0] <= latest:
            return current
        why = f" ({floor[1]})" if floor and floor[1] else ""
        raise SchemaTooNew(
            f"database {path} has schema version {current} but this program knows only up to "
            f"{latest}; it was written by a newer release{why} — install that release (or restore a "
            f"backup made by this one); the file was not changed"
        )
    for version in range(current + 1, latest + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if user_version(conn) >= version:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            for statement in migrations[version - 1]:
                conn.execute(statement)
            conn.execute(_COMPAT_TABLE)
            if version in breaking:
                conn.execute("INSERT OR REPLACE INTO schema_compat (id, floor, note) VALUES (1, ?, ?)",
                             (version, breaking[version]))
            else:
                conn.execute("INSERT OR IGNORE INTO schema_compat (id, floor, note) VALUES (1, 0, '')")
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"migration {version} of {path} failed and was rolled back: {exc}") from exc
    return user_version(conn)
