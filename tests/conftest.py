"""Fixtures several test modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flow_support import Rig, make_rig
from pcsc_support import VPCD_MODULES

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


# -- running on every core (pytest-xdist, ``-n`` from scripts/test.sh) ------------------------------
# A module's tests run together in one worker, so a module-scoped fixture (a back office, a whole
# kiosk run, the screen renders) is set up once. The modules that use vpcd's fixed TCP ports
# (``pcsc_support.VPCD_MODULES``) form one unit, so no two of them ever run at the same time. The
# longest units go first: a 70 s run started last would leave the other core idle at the end.
# (xdist's own ``--dist loadgroup`` cannot do this with pytest 9: it renames nodes through an
# attribute pytest no longer reads, and every test ends up a unit of its own.)
VPCD = "vpcd"
LONGEST_FIRST = (
    VPCD,
    "tests/test_flow_crash.py",
    "tests/test_release.py",
    "tests/test_ui_screens.py",
    "tests/test_sim_blinks.py",
    "tests/test_runtime_journeys.py",
    "tests/test_ui_behaviour.py",
    "tests/test_face_worker.py",
)


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to: its module, or the vpcd unit."""
    module = nodeid.split("::", 1)[0]
    return VPCD if module in VPCD_MODULES else module


@pytest.hookimpl(optionalhook=True)  # only when pytest-xdist is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        """xdist's per-module scheduling, with the vpcd modules as one unit."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after pytest-django, which sorts its database tests first
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(unit_of(item.nodeid), len(rank)))  # stable: modules keep their order
