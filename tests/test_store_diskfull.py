"""A full disk (ENOSPC) gives a typed DiskFull error and leaves nothing half-written behind.

Uses a real tiny tmpfs (needs root / CAP_SYS_ADMIN; skipped with the reason otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fs_support import tiny_tmpfs

from locker.errors import DiskFull
from locker.store import Store
from locker.submissions import Identity


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "small", "256k") as mnt:
        yield mnt


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_scan_that_does_not_fit_is_refused_cleanly(small_fs: Path, tmp_path: Path) -> None:
    with Store.open(small_fs / "data", tmp_path / "k.key", create_key=True) as s:
        t = s.submissions.open_draft(
            service_id="x", required_papers=["a"], identity=Identity("张三", "44010119900101123X")
        )
        before = files_under(small_fs)
        with pytest.raises(DiskFull) as err:
            s.submissions.add_scan(t.case_code, "a", 1, os.urandom(400_000))
        assert "no space left" in str(err.value) and err.value.code == "store.disk_full"
        assert files_under(small_fs) == before  # no temp file, no partial scan
        assert s.db.query_one("SELECT COUNT(*) FROM scan_files")[0] == 0
        assert s.submissions.get_case(t.case_code).papers == {}
        s.submissions.add_scan(t.case_code, "a", 1, b"a small page fits")  # the store still works
        assert s.submissions.read_scan(t.case_code, "a", 1) == b"a small page fits"


def test_database_write_on_a_full_disk_is_rolled_back(small_fs: Path, tmp_path: Path) -> None:
    with Store.open(small_fs / "data", tmp_path / "k.key", create_key=True) as s:
        done = s.submissions.open_draft(
            service_id="x", required_papers=[], identity=Identity("李四", "11010519491231002X")
        )
        with pytest.raises(DiskFull, match="database"):
            s.submissions.open_draft(
                service_id="x",
                required_papers=[],
                identity=Identity("王五", "11010519491231002X"),
                card_photo=os.urandom(600_000),
            )
        assert [r[0] for r in s.db.query("SELECT case_code FROM cases")] == [done.case_code]
        assert s.verify_audit().ok
    with Store.open(small_fs / "data", tmp_path / "k.key") as s:  # reopens after the failure
        assert s.submissions.identity(done.case_code).name == "李四"
