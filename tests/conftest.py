"""Fixtures several test modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_support import Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The deposit/staff/results rig: ID card, fingerprint and locker simulators on ptys, a real store."""
    with make_rig(tmp_path) as r:
        yield r
