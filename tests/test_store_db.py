"""The SQLite file: created and migrated from nothing, refuses a newer schema, rolls back cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from locker import schema
from locker.db import Database
from locker.errors import SchemaTooNew, StoreError


def test_empty_file_is_migrated_to_latest_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "kiosk.sqlite3"
    with Database(path) as db:
        assert db.version == schema.LATEST
        assert db.query_one("PRAGMA journal_mode")[0] == "wal"
        assert db.query_one("PRAGMA synchronous")[0] == 2  # FULL
        assert db.query_one("PRAGMA foreign_keys")[0] == 1
        tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"cases", "case_papers", "scan_files", "audit_log", "outbox"} <= tables
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    raw.close()
    with Database(path) as db:  # reopening an up-to-date file changes nothing
        assert db.version == schema.LATEST


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A newer release's breaking migration: the file says so, and this release refuses it with the note."""
    path = tmp_path / "kiosk.sqlite3"
    Database(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    raw.execute("UPDATE schema_compat SET floor = ?, note = 'case states rewritten in 9.0'", (schema.LATEST + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(SchemaTooNew) as err:
        Database(path)
    assert f"schema version {schema.LATEST + 1}" in str(err.value)
    assert "newer release" in str(err.value) and "case states rewritten in 9.0" in str(err.value)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST + 1
    raw.close()


def test_failed_migration_rolls_back_to_previous_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    migrations = (("CREATE TABLE a (x)",), ("CREATE TABLE b (y)", "THIS IS NOT SQL"))
    with pytest.raises(StoreError, match="migration 2"):
        schema.migrate(conn, "m", migrations)
    assert schema.user_version(conn) == 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert names == {"a", "schema_compat"}  # b was created inside the failed transaction and rolled back
    conn.close()


def test_nested_transaction_failure_rolls_back_only_the_inner_part(tmp_path: Path) -> None:
    with Database(tmp_path / "k.sqlite3") as db:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (kind, title, body, target, created_at, next_attempt_at)"
                " VALUES ('a', 't', 'b', 'x', 0, 0)"
            )
            with pytest.raises(RuntimeError), db.transaction() as inner:
                inner.execute(
                    "INSERT INTO outbox (kind, title, body, target, created_at, next_attempt_at)"
                    " VALUES ('b', 't', 'b', 'x', 0, 0)"
                )
                raise RuntimeError("inner failure")
        assert [r["kind"] for r in db.query("SELECT kind FROM outbox")] == ["a"]


def test_sql_errors_come_out_as_store_errors(tmp_path: Path) -> None:
    with Database(tmp_path / "k.sqlite3") as db, pytest.raises(StoreError):
        db.execute("INSERT INTO cases (case_code) VALUES ('X')")  # NOT NULL columns missing


def test_newer_schema_refusal_does_not_even_switch_the_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE t (x)")
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaTooNew):
        Database(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    raw.close()


def test_a_newer_release_that_only_added_tables_is_still_opened_by_this_one(tmp_path: Path) -> None:
    """What makes `kiosk rollback` work after an update: additive migrations keep the file usable."""
    path = tmp_path / "kiosk.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    newer = (*schema.MIGRATIONS, ("CREATE TABLE added_later (x TEXT)",))
    assert schema.migrate(conn, str(path), newer) == schema.LATEST + 1
    conn.close()
    with Database(path) as db:  # this release knows only up to LATEST
        assert db.version == schema.LATEST + 1
        db.execute("INSERT INTO outbox (kind, title, body, target, created_at, next_attempt_at)"
                   " VALUES ('a', 't', 'b', 'x', 0, 0)")
    conn = sqlite3.connect(path, isolation_level=None)
    breaking = (*newer, ("ALTER TABLE cases RENAME TO cases_v2",))
    assert schema.migrate(conn, str(path), breaking, {schema.LATEST + 2: "0.9 renames cases"}) == schema.LATEST + 2
    conn.close()
    with pytest.raises(SchemaTooNew, match="0.9 renames cases"):
        Database(path)
