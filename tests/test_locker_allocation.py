"""Allocation invariants under random reserve / release / time passing (no bus traffic needed)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.lockerboard import LockerBus
from kiosk.config import CompartmentSpec
from locker import compartments as comp
from locker.audit import AuditLog
from locker.compartments import CompartmentSize, CompartmentState, NoCompartmentFree
from locker.db import Database
from locker.service import LockerService

SPECS = tuple(
    CompartmentSpec(f"{size[0].upper()}{i}", size, 0, n)
    for n, (size, i) in enumerate(
        [("small", 1), ("small", 2), ("small", 3), ("medium", 1), ("medium", 2), ("large", 1)]
    )
)
TOTAL = {CompartmentSize.SMALL: 3, CompartmentSize.MEDIUM: 2, CompartmentSize.LARGE: 1}

ops = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.sampled_from(list(CompartmentSize)), st.integers(0, 6)),
        st.tuples(st.just("release"), st.sampled_from([s.id for s in SPECS]), st.just(0)),
        st.tuples(st.just("wait"), st.just(""), st.integers(1, 40)),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(ops)
def test_reservations_never_double_book_and_full_sizes_say_what_is_left(steps: list[tuple[str, object, int]]) -> None:
    now = [1_800_000_000.0]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "k.sqlite3")
        bus = LockerBus("/dev/null-not-opened", boards={0: "cu48"})  # never opened: allocation needs no bus
        svc = LockerService(db, bus, AuditLog(db), None, SPECS, clock=lambda: now[0], reservation_ttl_s=30)
        comp.sync_specs(db, SPECS, now[0])
        holder: dict[str, tuple[str, float]] = {}  # model: compartment → (case, expires)
        for op, arg, n in steps:
            if op == "wait":
                now[0] += n
                continue
            if op == "release":
                svc.release(str(arg), actor="resident")
                holder.pop(str(arg), None)
                continue
            size, case = CompartmentSize(str(arg)), f"C{n}"
            live = {c: v for c, v in holder.items() if v[1] > now[0]}
            try:
                got = svc.reserve(size, case_code=case)
            except NoCompartmentFree as err:
                used = sum(1 for c in live if c[0] == size.value[0].upper())
                assert used == TOTAL[size]
                for bigger, free in err.larger_free.items():
                    assert bigger.rank > size.rank and free > 0
                continue
            assert got.size is size and got.state is CompartmentState.RESERVED and got.case_code == case
            if got.id in live:
                assert live[got.id][0] == case  # only the same case gets the same compartment again
            holder[got.id] = (case, now[0] + 30)
        live = {c for c, v in holder.items() if v[1] > now[0]}
        counts = svc.free_counts()
        for size in CompartmentSize:
            assert counts[size] == TOTAL[size] - sum(1 for c in live if c[0] == size.value[0].upper())
        db.close()
