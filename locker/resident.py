"""What the kiosk keeps for the resident beyond the case itself (issue 14): the mobile number they
chose to give and the receipt's pickup code, sealed like the identity, until the back office holds
them; and the ratings (好差评) waiting to be sent.

Why the pickup code is kept at all (the cases table holds only its MAC): the back office's
"result ready" text message carries it, and it reaches the back office only inside the case
package over the kiosk's authenticated channel. Once the back office acknowledged the package the
row is deleted (``forget``); retention deletes what a purged case left behind.

Ratings hold no personal data (a case code, a level, reasons, a short note). The visit id is the
primary key, so a second rating for the same visit is ignored: the first one stands (一次一评).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import contract
from locker.crypto import Cipher
from locker.db import Database

log = logging.getLogger(__name__)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS resident_contact (
        case_code TEXT PRIMARY KEY,
        phone_enc BLOB,
        pickup_enc BLOB,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ratings_out (
        rating_id TEXT PRIMARY KEY,
        case_code TEXT,
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL,
        last_error TEXT
    )""",
)


class ResidentStore:
    def __init__(self, db: Database, cipher: Cipher, *, clock: Callable[[], float] = time.time) -> None:
        self.db, self.cipher, self.clock = db, cipher, clock
        with db.transaction() as conn:
            for sql in _TABLES:
                conn.execute(sql)

    # -- contact -----------------------------------------------------------------------------------
    def save_contact(self, case_code: str, *, phone: str | None, pickup_code: str | None) -> None:
        """Keep (sealed) what the package will carry; a number that is not a mainland mobile is refused."""
        if phone is not None and not contract.is_mainland_mobile(phone):
            raise ValueError("not a mainland mobile number")

        def seal(value: str | None, fld: str) -> bytes | None:
            return None if value is None else self.cipher.encrypt(value.encode(), table="resident_contact",
                                                                   row=case_code, field=fld)

        with self.db.transaction() as conn:
            conn.execute("INSERT INTO resident_contact (case_code, phone_enc, pickup_enc, created_at)"
                         " VALUES (?, ?, ?, ?) ON CONFLICT (case_code) DO UPDATE SET phone_enc = excluded.phone_enc,"
                         " pickup_enc = excluded.pickup_enc",
                         (case_code, seal(phone, "phone"), seal(pickup_code, "pickup"), self.clock()))

    def contact(self, case_code: str) -> tuple[str | None, str | None]:
        """(phone, pickup code) as given for the case, or (None, None)."""
        row = self.db.query_one("SELECT phone_enc, pickup_enc FROM resident_contact WHERE case_code = ?", (case_code,))
        if row is None:
            return None, None

        def unseal(blob: bytes | None, fld: str) -> str | None:
            return None if blob is None else self.cipher.decrypt(blob, table="resident_contact", row=case_code,
                                                                 field=fld).decode()

        return unseal(row["phone_enc"], "phone"), unseal(row["pickup_enc"], "pickup")

    def forget(self, case_code: str) -> None:
        self.db.execute("DELETE FROM resident_contact WHERE case_code = ?", (case_code,))

    # -- ratings -----------------------------------------------------------------------------------
    def add_rating(self, rating: contract.Rating) -> bool:
        """Queue a rating; False when the visit already has one (the first stands)."""
        contract.Rating.from_json(rating.to_json())  # refuse here what the back office would refuse
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO ratings_out (rating_id, case_code, body, created_at)"
                               " VALUES (?, ?, ?, ?)", (rating.rating_id, rating.case_code,
                                                        json.dumps(rating.to_json(), ensure_ascii=False), self.clock()))
        added = cur.rowcount == 1
        log.info("rating %s for visit %s %s", rating.level, rating.rating_id, "queued" if added else "ignored: "
                 "the visit was already rated")
        return added

    def pending_ratings(self, limit: int = contract.MAX_RATINGS_PER_BATCH) -> list[contract.Rating]:
        rows = self.db.query("SELECT body FROM ratings_out WHERE sent_at IS NULL ORDER BY created_at LIMIT ?",
                             (limit,))
        return [contract.Rating.from_json(json.loads(r["body"])) for r in rows]

    def ratings_answered(self, accepted: tuple[str, ...], refused: dict[str, str]) -> None:
        now = self.clock()
        with self.db.transaction() as conn:
            for rid in accepted:
                conn.execute("UPDATE ratings_out SET sent_at = ?, last_error = NULL WHERE rating_id = ?", (now, rid))
            for rid, why in refused.items():
                conn.execute("UPDATE ratings_out SET last_error = ? WHERE rating_id = ?", (why[:300], rid))
