"""`kiosk locker …`: the compartments from a technician's shell — list, check and return to service.

The staff screen has "check and return to service" on the compartment controls; these commands do
the same for a technician at the kiosk PC with the app stopped (the locker bus is one serial port:
while the app runs, `check` says so and changes nothing). Every change is an audit row with the
technician's login name as the actor, exactly like the staff screen's.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from devices.errors import KioskError
from kiosk.config import KioskConfig

_IN_A_COMPARTMENT = ("committed", "result_ready")


def add_locker_commands(sub: Any) -> None:
    lk = sub.add_parser("locker", help="compartments: list, check and return to service").add_subparsers(
        dest="locker_command", required=True
    )
    lk.add_parser("list", help="every compartment: state, case, why it is out of order").set_defaults(
        func=cmd_locker
    )
    chk = lk.add_parser("check", help="open a compartment, wait until it is shut, return it to service (app stopped)")
    chk.add_argument("compartment")
    chk.add_argument("--papers", choices=("inside", "empty"), help="for a deposit whose door outcome was unknown")
    chk.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the door to be shut")
    chk.set_defaults(func=cmd_locker)
    ret = lk.add_parser("return", help="return a compartment to service after checking it by hand (audited)")
    ret.add_argument("compartment")
    ret.add_argument("--reason", required=True, help="what was checked, for the audit log")
    ret.add_argument("--papers", choices=("inside", "empty"), help="for a deposit whose door outcome was unknown")
    ret.set_defaults(func=cmd_locker)


def _actor() -> str:
    return f"technician:{getpass.getuser()}"


def cmd_locker(cfg: KioskConfig, args: argparse.Namespace) -> int:
    from locker.store import Store

    with Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=False) as store:
        if args.locker_command == "list":
            return _list(store)
        try:
            return _check_or_return(cfg, store, args)
        except KioskError as exc:
            print(f"compartment {args.compartment}: {exc.message}")
            return 1


def _list(store: Any) -> int:
    from locker import compartments as comp

    held = comp.held_by_cases(store.db)  # e.g. a collection door shut but never confirmed
    for c in comp.load_all(store.db, include_retired=True):
        flags = " needs staff" if c.needs_staff else ""
        if c.id in held and c.case_code != held[c.id]:
            flags += f" held for pending case {held[c.id]}"
        flags += " retired" if c.retired else ""
        print(f"{c.id:<6} {c.size.value:<7} board {c.board} lock {c.lock:<3} {c.state.value:<13}"
              f" {c.case_code or '-':<9}{flags}{'  ' + c.note if c.note else ''}")
    return 0


def _holding(store: Any, case_code: str | None, papers: str | None) -> tuple[bool, str | None]:
    """Whether the compartment holds papers, and the draft case to settle (None when there is none)."""
    if not case_code:
        return False, None
    try:
        case = store.submissions.get_case(case_code)
    except KioskError:
        return False, None
    if case.state.value == "draft":
        if papers is None:
            raise KioskError(f"it was held for case {case_code} after an unclear unlock: say --papers inside|empty")
        return papers == "inside", case_code
    return case.state.value in _IN_A_COMPARTMENT, None


def _check_or_return(cfg: KioskConfig, store: Any, args: argparse.Namespace) -> int:
    from locker import compartments as comp

    c = comp.load(store.db, args.compartment)
    holding, draft = _holding(store, c.case_code, args.papers)
    actor = _actor()
    if args.locker_command == "check":
        lockers, bus = _service(cfg, store)
        try:
            print(f"opening compartment {c.id}: look inside, then shut the door …", flush=True)
            lockers.check_door(c.id, actor=actor, timeout=args.timeout)
            _settle(store, lockers, c.id, draft, holding, actor, "checked from the command line: door opened and shut")
        finally:
            lockers.stop()
            bus.close()
    else:  # nothing is sent to any board: the service is built, not started
        lockers, _bus = _service(cfg, store, start=False)
        _settle(store, lockers, c.id, draft, holding, actor, args.reason)
    now = comp.load(store.db, c.id)
    print(f"compartment {c.id}: {now.state.value}" + (f", case {now.case_code}" if now.case_code else ""))
    return 0


def _settle(store: Any, lockers: Any, cid: str, draft: str | None, holding: bool, actor: str, reason: str) -> None:
    if draft is not None and holding:
        with store.db.transaction():
            store.submissions.commit_submission(draft, compartment_id=cid, actor=actor)
            why = "technician found the papers after an unclear unlock"
            store.audit.append(actor, "case.committed_unattended", case_code=draft,
                               detail={"why": why, "compartment": cid})
    elif draft is not None:
        store.submissions.cancel(draft, actor=actor, reason="technician found the compartment empty")
    lockers.back_in_service(cid, actor=actor, reason=reason, holding=holding)


def _service(cfg: KioskConfig, store: Any, *, start: bool = True) -> tuple[Any, Any]:
    from kiosk.wiring import make_driver
    from locker.outbox import Outbox
    from locker.service import LockerService

    bus = make_driver(cfg, "locker")  # drivers never open their port in the constructor
    alerts = Outbox(store.db, list(cfg.alerts.urls))
    lockers = LockerService.from_config(store.db, bus, store.audit, alerts, cfg.lockers)
    if start:
        bus.open()  # exclusive: refused while the app holds the port
        lockers.start()  # settles unfinished unlocks from the sensors first, as the app would; sends nothing
    return lockers, bus
