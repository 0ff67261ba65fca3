"""Fixtures several test modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flow_support import Rig, make_rig

if TYPE_CHECKING:
    from sync_support import Backoffice


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The deposit/staff/results rig: ID card, fingerprint and locker simulators on ptys, a real store."""
    with make_rig(tmp_path) as r:
        yield r


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backoffice]:
    """The real back office in a subprocess (``sync_support.Backoffice``), one per test module."""
    from sync_support import Backoffice

    bo = Backoffice(tmp_path_factory.mktemp("backoffice"))
    bo.start()
    yield bo
    bo.close()
