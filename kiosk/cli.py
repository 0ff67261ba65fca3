"""The `kiosk` command: device checks, simulators and (later) the app, for technicians and testers.

Every failure ends in one readable line and a non-zero exit code, never a traceback: the person
running it stands at a kiosk with a service laptop.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from devices.errors import KioskError
from kiosk import __version__
from kiosk.config import ALL_DEVICES, KioskConfig, load_config
from kiosk.logsetup import setup_logging

log = logging.getLogger("kiosk")

GREEN, RED, RESET = "\033[32m", "\033[31m", "\033[0m"


def _colour(ok: bool, text: str) -> str:
    if not sys.stdout.isatty():
        return text
    return f"{GREEN if ok else RED}{text}{RESET}"


def check_all(cfg: KioskConfig, names: list[str]) -> list[Any]:
    """Check devices side by side, so one silent device costs one time-out, not one each."""
    from kiosk.wiring import check_device

    # Devices are independent: check them side by side so one silent device costs one time-out.
    # A door relay wired to a locker board shares that board's port, so it waits for the locker.
    relay = cfg.devices.get("door_relay")
    shares_bus = relay is not None and getattr(relay, "kind", "") == "locker_channel"
    groups = [[n] for n in names if not (shares_bus and n in ("locker", "door_relay"))]
    groups.append([n for n in ("locker", "door_relay") if shares_bus and n in names])
    out: dict[str, Any] = {}

    def run(group: list[str]) -> None:
        for n in group:
            out[n] = check_device(cfg, n)

    threads = [threading.Thread(target=run, args=(g,)) for g in groups if g]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [out[n] for n in names]


def cmd_devices_check(cfg: KioskConfig, args: argparse.Namespace) -> int:
    unknown = sorted(set(args.device) - set(ALL_DEVICES))
    if unknown:
        print(f"kiosk devices check: unknown device(s) {', '.join(unknown)}; known: {', '.join(ALL_DEVICES)}",
              file=sys.stderr)
        return 2
    names = args.device or [n for n in ALL_DEVICES if n in cfg.devices]
    results = check_all(cfg, names)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=2))
    else:
        mode = "simulator" if cfg.simulator.enabled else "hardware"
        print(f"Devices of {cfg.name} ({mode} mode, {cfg.path}):")
        for r in results:
            mark = _colour(r.ok, "OK  " if r.ok else "FAIL")
            print(f"  {mark} {r.device:<16} {r.status:<15} {r.detail}")
        broken = [r.device for r in results if not r.ok]
        print(_colour(not broken, "all devices online" if not broken else f"not working: {', '.join(broken)}"))
    return 0 if all(r.ok for r in results) else 1


def cmd_devices_watch(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Re-check every few seconds and print a line whenever a device changes (testers, technicians)."""
    import time

    names = [n for n in ALL_DEVICES if n in cfg.devices]
    last: dict[str, tuple[bool, str]] = {}
    try:
        while True:
            for r in check_all(cfg, names):
                state = (r.ok, r.status)
                if last.get(r.device) != state:
                    stamp = time.strftime("%H:%M:%S")
                    mark = _colour(r.ok, "OK  " if r.ok else "FAIL")
                    print(f"{stamp} {mark} {r.device:<16} {r.status:<15} {r.detail}", flush=True)
                    last[r.device] = state
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def cmd_devices_identify(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """List attached serial adapters and propose udev rules for stable names."""
    from devices.usb_serial import list_adapters, proposal

    adapters = [a for a in list_adapters() if a.is_usb]
    if not adapters:
        print("no USB serial adapters attached (plug them in, then run this again)")
        return 1
    print("Attached USB serial adapters:")
    for a in adapters:
        sn = a.serial_number or "(no serial number)"
        print(f"  {a.device:<14} {a.vid:04x}:{a.pid:04x} {sn:<20} port {a.location or '?':<12} {a.description}")
    print()
    print(proposal(adapters, args.names), end="")
    return 0


def cmd_fingerprint_password(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Program the sensor with the configured password (a new sensor answers to 0, the factory default)."""
    from kiosk.config import FingerprintConfig
    from kiosk.wiring import make_driver

    dev = cfg.devices.get("fingerprint")
    if not isinstance(dev, FingerprintConfig) or dev.password == 0:
        print("kiosk devices fingerprint-password: no password configured; put one in a file (mode 600) and name "
              "it in [devices.fingerprint] password_file", file=sys.stderr)
        return 2
    sensor = make_driver(cfg, "fingerprint")
    sensor.password = args.current  # type: ignore[attr-defined]
    try:
        sensor.open()
        sensor.set_password(dev.password)  # type: ignore[attr-defined]
    finally:
        sensor.close()
    print("the fingerprint sensor now answers only to the configured password")
    return 0


def cmd_sim(cfg: KioskConfig, args: argparse.Namespace) -> int:
    from devices.sim_control import SimControlServer
    from kiosk.wiring import make_simulator, simulated_devices

    names = simulated_devices(cfg) if args.device == "all" else [args.device]
    pacing = False if args.no_pacing else None
    sims: dict[str, Any] = {}
    try:
        for name in names:
            link = args.link if args.device != "all" else None
            sim = make_simulator(cfg, name, link=link, pacing=pacing)
            sim.start()
            sims[name] = sim
        control_path = args.control or str(cfg.simulator.control_socket)
        server = SimControlServer(control_path, sims).start()
    except KioskError as exc:
        for sim in sims.values():
            sim.stop()
        print(f"kiosk sim: {exc}", file=sys.stderr)
        return 2
    for name, sim in sims.items():
        print(f"{name}: {getattr(sim, 'port', '')}", flush=True)
    print(f"control: {control_path}", flush=True)
    print("ready", flush=True)
    stop = threading.Event()
    # An ignored SIGINT means a script started us in the background and stops us itself, in order
    # (scripts/run.sh: the app goes before the simulators it talks to), so keep ignoring Ctrl-C then.
    wanted = [signal.SIGTERM] if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else [signal.SIGINT, signal.SIGTERM]
    for sig in wanted:
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.close()
    for sim in sims.values():
        sim.stop()
    return 0


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_simctl(cfg: KioskConfig, args: argparse.Namespace) -> int:
    from devices.sim_control import send_control

    path = args.control or str(cfg.simulator.control_socket)
    kwargs = {}
    for item in args.args:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"kiosk simctl: {item!r} is not key=value", file=sys.stderr)
            return 2
        kwargs[key] = _parse_value(value)
    try:
        result = send_control(path, args.device, args.action, **kwargs)
    except (OSError, RuntimeError) as exc:
        print(f"kiosk simctl: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_config_check(cfg: KioskConfig, args: argparse.Namespace) -> int:
    from kiosk.config import defaulted_ports

    print(f"{cfg.path}: valid")
    for note in defaulted_ports(cfg):
        print(f"  note: {note}")
    for name, dev in cfg.devices.items():
        where = "simulated" if dev.simulated else "hardware"
        line = f"  {name:<16} {'enabled' if dev.enabled else 'disabled':<9} {where}"
        if getattr(dev, "reader", None) == "":
            line += ("  — no reader named: hardware mode never uses vsmartcard's virtual readers (any host on "
                     "the network could present a card to them); set reader = a part of the PC/SC name "
                     "(`pcsc_scan` shows it)")
        print(line)
    bo = cfg.backoffice
    print(f"  back office      {'enabled' if bo.enabled else 'disabled':<9} {bo.url or '(no url)'}"
          + (f", CA {bo.ca_file}" if bo.ca_file else ""))
    return 0


def cmd_enrol(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Exchange the back office's one-time code for this kiosk's credential (kept beside the key file)."""
    from kiosk.sync.enrol import enrol

    outcome = enrol(cfg, args.url, args.code, force=args.force, if_needed=args.if_needed)
    cred = outcome.credential
    verb = "enrolled" if outcome.fresh else "already enrolled"
    print(f"{verb} as {cred.kiosk_id} ({cred.kiosk_name}, {cred.town}) with {cred.url}; credential in {outcome.path}")
    if not cfg.backoffice.enabled or cfg.backoffice.url.rstrip("/") != cred.url:
        print(f"note: set [backoffice] enabled = true and url = \"{cred.url}\" in {cfg.path} to deliver cases there")
    return 0


def cmd_deliveries(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """What waits to go to the back office, and why; ``retry`` makes it all due now (after a fix)."""
    from kiosk.sync.queue import DeliveryQueue

    if _no_store_yet(cfg):
        return 0
    with _open_store(cfg) as store:
        queue = DeliveryQueue(store.db, store.cipher)
        if args.deliveries_command == "retry":
            print(f"{queue.retry_all_now()} case(s) due now; the running kiosk sends them within "
                  f"{cfg.backoffice.poll_interval_s:g} s")
            return 0
        waiting = [d for d in queue.all() if d.acknowledged_at is None]
        for d in waiting:
            state = "REFUSED" if d.refused_at is not None else "waiting"
            print(f"{d.case_code}  {state:<8} tries {d.attempts:<3} {d.error_code or ''} {d.last_error or ''}".rstrip())
        print(f"{len(waiting)} case(s) not yet acknowledged by the back office")
    return 0


def _open_store(cfg: KioskConfig, *, create: bool = False) -> Any:
    from locker.store import Store

    return Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=create and cfg.store.create_key)


def _no_store_yet(cfg: KioskConfig) -> bool:
    from locker.store import DB_NAME

    if (cfg.store.data_dir / DB_NAME).exists():
        return False
    print(f"no database yet at {cfg.store.data_dir / DB_NAME}: nothing to do (the kiosk has not started)")
    return True


def cmd_audit_verify(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Walk the hash chain of the audit log; name every altered, missing or cut-off entry."""
    from locker.integrity import lost_database, restore_hint
    from locker.store import DB_NAME

    lost = lost_database(cfg.store.data_dir / DB_NAME)
    if lost is not None:  # never "nothing to do" for a database that existed: the anchor says it did
        print(f"audit chain BROKEN: {lost}\n  restore: {restore_hint(cfg.store.data_dir / DB_NAME)}")
        return 1
    if _no_store_yet(cfg):
        return 0
    with _open_store(cfg) as store:
        report = store.verify_audit()
    print(report)
    return 0 if report.ok else 1


def cmd_purge(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """The retention job: delete personal data of cases collected more than retention_days ago."""
    from locker.retention import RetentionJob

    if _no_store_yet(cfg):
        return 0
    from flows.fingerprints import DIRECTORY_NAME, PAGE_KEY_PURPOSE, FingerprintDirectory
    from locker.outbox import Outbox

    with _open_store(cfg) as store:
        pages = FingerprintDirectory(cfg.store.data_dir / DIRECTORY_NAME,
                                     lambda n: str(store.cipher.mac(PAGE_KEY_PURPOSE, n)))
        try:
            job = RetentionJob(store.submissions, days=cfg.store.retention_days,
                               hold_undelivered=cfg.backoffice.enabled, uncollected_days=cfg.store.uncollected_days,
                               warn_days=cfg.store.uncollected_warn_days,
                               alerts=Outbox(store.db, list(cfg.alerts.urls)) if cfg.alerts.urls else None,
                               forget_fingerprint=pages.forget)
            result = job.run()
            swept = job.sweep()
        finally:
            pages.close()
    print(f"purged personal data of {len(result.purged_cases)} case(s), removed {result.files_removed + swept} "
          f"file(s) (retention {cfg.store.retention_days:g} days)")
    return 0


def cmd_staff(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Staff accounts: badge UID + PIN (asked twice, never echoed, stored as a peppered scrypt hash)."""
    from locker.staff import StaffAccounts, StaffError, cli_add_staff, cli_set_pin

    with _open_store(cfg, create=True) as store:
        accounts = StaffAccounts(store.db, store.audit, cipher=store.cipher)
        if args.staff_command == "add":
            return cli_add_staff(accounts, args.badge, args.name)
        if args.staff_command == "set-pin":
            return cli_set_pin(accounts, args.badge)
        if args.staff_command in ("revoke", "unlock"):
            try:
                (accounts.revoke if args.staff_command == "revoke" else accounts.unlock)(args.badge)
            except StaffError as exc:
                print(f"kiosk staff {args.staff_command}: {exc.message}", file=sys.stderr)
                return 1
            print(f"badge {args.badge}: {'revoked' if args.staff_command == 'revoke' else 'unlocked'}")
            return 0
        for member in accounts.list_staff():
            print(f"{member.badge_uid:<20} {member.name}")
    return 0


def cmd_key(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """The data key: its id (and the one the data was encrypted with), and rotating it."""
    from locker import keys
    from locker.db import Database
    from locker.store import DB_NAME, Store

    source = keys.key_source(cfg.store.key_file)
    db_path = cfg.store.data_dir / DB_NAME
    if args.key_command == "id":
        have = keys.key_id(keys.read_key(source)) if source.path.exists() else "missing"
        print(f"{source.describe()}: key id {have}")
        if db_path.exists():
            with Database(db_path) as db:
                keys.ensure_meta_table(db)
                row = keys.meta_row(db)
            print(f"data in {db_path}: key id {row['key_id'] if row else 'not recorded yet'}")
        return 0
    if source.kind == "credential":
        print(f"kiosk key rotate: run it as root from a shell, not inside the service (the {source.describe()} "
              f"is the decrypted copy systemd handed over)", file=sys.stderr)
        return 2
    if not db_path.exists():
        print(f"no database yet at {db_path}: nothing to rotate")
        return 0
    with Store.open(cfg.store.data_dir, cfg.store.key_file) as store:
        store.close()  # verified the key; the rotation takes the folder alone below
        old = store.cipher
    lock = keys.StoreLock(cfg.store.data_dir, exclusive=True)
    try:
        with Database(db_path) as db:
            new_id = keys.rotate(db, old, source.path, cfg.store.data_dir / "scans",
                                 pause=float(getattr(args, "pause", 0.0) or 0.0), source=source)
    finally:
        lock.release()
    backup = (f"systemd-creds decrypt --name={keys.CREDENTIAL_NAME} {source.path} /root/kiosk-data-key.backup"
              if source.kind == "sealed" else f"a copy of {source.path}")
    print(f"key rotated: the data is now under key id {new_id} in the {source.describe()}; back this key up now "
          f"({backup}, kept offline): the old key no longer opens anything")
    return 0


def cmd_app(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """The touchscreen app (full screen unless --windowed)."""
    from kiosk.app import run_app
    from kiosk.release import log_start

    log_start("app")
    return run_app(cfg, fullscreen=not args.windowed, orientation=args.orientation, demo=args.demo)


def cmd_panel(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """The simulator panel: a tester's hands on the running simulators."""
    from kiosk.panel import run_panel

    return run_panel(cfg)


def cmd_doctor(cfg: KioskConfig, args: argparse.Namespace) -> int:
    from kiosk.doctor import run_doctor

    findings = run_doctor(cfg, devices=not args.no_devices)
    for f in findings:
        mark = _colour(f.ok, "OK  " if f.ok else "FAIL")
        line = f"{mark} {f.what:<22} {f.detail}"
        if not f.ok and f.fix:
            line += f"\n     fix: {f.fix}"
        print(line)
    return 0 if all(f.ok for f in findings) else 1


def cmd_release(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Self-check of this release (make install runs it before switching) and its confirmation."""
    from kiosk import releases
    from kiosk.release import selfcheck

    if args.release_command == "status":
        return releases.main(["--root", args.root, "status"])
    if args.release_command == "migrate":  # make install, after the switch: the live database, forward
        problems = selfcheck(cfg, root=args.root, copy=False, imports=False)
        for problem in problems:
            print(f"kiosk release migrate: {problem}", file=sys.stderr)
        return 1 if problems else 0
    before = args.release_command == "selfcheck"
    problems = selfcheck(cfg, root=args.root, copy=before, imports=not args.no_imports)
    if not before:  # ExecStartPost of kiosk.service, after the app's READY=1
        from kiosk.start_failure import read_marker

        if not releases.Layout(args.root).pending_file.exists():
            # nothing to confirm: a damaged database is the app's to show (out of service, alert), and
            # failing here would make systemd kill that screen and crash-loop (kiosk.start_failure)
            for problem in problems:
                print(f"WARN {problem}")
            return releases.main(["--root", args.root, "confirm"])
        failed = read_marker()
        if failed:  # a new release whose app did not start is not healthy: the guard rolls it back
            problems.append(f"the app did not start: {failed}")
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"kiosk {__version__}: self-check failed", file=sys.stderr)
        return 1
    print(f"kiosk {__version__}: self-check passed")
    return 0 if before else releases.main(["--root", args.root, "confirm"])


def cmd_rollback(cfg: KioskConfig, args: argparse.Namespace) -> int:
    """Back to the previous release (refused when the database is past what it can open)."""
    from kiosk import releases

    return releases.main(["--root", args.root, "rollback"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="24-hour self-service kiosk controller")
    p.add_argument("--config", help="configuration file (default: $KIOSK_CONFIG, /etc/kiosk/kiosk.toml, "
                   "else the simulator configuration in the source tree)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("devices", help="device checks").add_subparsers(dest="devices_command", required=True)
    chk = dev.add_parser("check", help="talk to every configured device and print its status")
    chk.add_argument("device", nargs="*", help=f"only these devices ({', '.join(ALL_DEVICES)})")
    chk.add_argument("--json", action="store_true")
    chk.set_defaults(func=cmd_devices_check)
    watch = dev.add_parser("watch", help="re-check the devices and print every change until Ctrl-C")
    watch.add_argument("--interval", type=float, default=3.0, help="seconds between checks")
    watch.set_defaults(func=cmd_devices_watch)
    ident = dev.add_parser("identify", help="list USB serial adapters and propose udev rules for them")
    ident.add_argument("--names", nargs="*", default=["kiosk-idcard", "kiosk-fingerprint", "kiosk-locker"],
                       help="stable names to give the adapters, in the order listed")
    ident.set_defaults(func=cmd_devices_identify)
    fpw = dev.add_parser("fingerprint-password", help="program the fingerprint sensor with the configured password")
    fpw.add_argument("--current", type=lambda v: int(v, 0), default=0, help="the sensor's password now (default 0)")
    fpw.set_defaults(func=cmd_fingerprint_password)

    sim = sub.add_parser("sim", help="run a simulator standalone (or all of them) until Ctrl-C")
    sim.add_argument("device", choices=["all", *ALL_DEVICES])
    sim.add_argument("--link", help="also make this path a link to the pty (single device only)")
    sim.add_argument("--control", help="control socket path (default: <run_dir>/control.sock)")
    sim.add_argument("--no-pacing", action="store_true", help="answer at once instead of at the baud rate")
    sim.set_defaults(func=cmd_sim)

    ctl = sub.add_parser("simctl", help="tell a running simulator to act: place a card, jam a door, …")
    ctl.add_argument("device", help="device name, or 'all' with action 'list' to see every action")
    ctl.add_argument("action")
    ctl.add_argument("args", nargs="*", help="key=value (values are JSON when they parse as JSON)")
    ctl.add_argument("--control", help="control socket path (default: <run_dir>/control.sock)")
    ctl.set_defaults(func=cmd_simctl)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check the hash chain; names a tampered, missing or cut-off entry"
                     ).set_defaults(func=cmd_audit_verify)
    sub.add_parser("purge", help="retention job: delete personal data of long-collected cases"
                   ).set_defaults(func=cmd_purge)
    staff = sub.add_parser("staff", help="staff accounts (badge + PIN)").add_subparsers(dest="staff_command",
                                                                                      required=True)
    add = staff.add_parser("add", help="add a staff member: asks for the PIN twice")
    add.add_argument("badge", help="badge UID in hex, as the staff reader reports it")
    add.add_argument("name")
    add.set_defaults(func=cmd_staff)
    staff.add_parser("list", help="list staff members").set_defaults(func=cmd_staff)
    for name, what in (("revoke", "revoke a badge (the account stays in the audit log)"),
                       ("set-pin", "give a badge a new PIN: asks for it twice; also lifts a lock-out"),
                       ("unlock", "lift a badge's lock-out after wrong PINs")):
        sp = staff.add_parser(name, help=what)
        sp.add_argument("badge", help="badge UID in hex")
        sp.set_defaults(func=cmd_staff)
    key = sub.add_parser("key", help="the data key").add_subparsers(dest="key_command", required=True)
    key.add_parser("id", help="the key's id and the id the data was encrypted with").set_defaults(func=cmd_key)
    rot = key.add_parser("rotate", help="re-encrypt everything under a new key (stop the kiosk first)")
    rot.add_argument("--pause", type=float, default=0.0, help=argparse.SUPPRESS)  # tests: time to interrupt
    rot.set_defaults(func=cmd_key)
    app = sub.add_parser("app", help="run the touchscreen app")
    app.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    app.add_argument("--orientation", choices=["portrait", "landscape"], help="override [ui] orientation")
    app.add_argument("--demo", action="store_true", help="hand-made demo screens instead of the real flows")
    app.set_defaults(func=cmd_app)
    sub.add_parser("panel", help="the simulator panel (needs `kiosk sim all`)").set_defaults(func=cmd_panel)
    doc = sub.add_parser("doctor", help="configuration, devices, disk, key file, database, alerts: one line each")
    doc.add_argument("--no-devices", action="store_true", help="skip talking to the devices")
    doc.set_defaults(func=cmd_doctor)

    enr = sub.add_parser("enrol", help="enrol this kiosk with the back office (one-time code from its admin)")
    enr.add_argument("url", help="the back office's address, e.g. https://backoffice.example.gov.cn")
    enr.add_argument("code", help="the one-time enrolment code")
    enr.add_argument("--force", action="store_true", help="replace an existing credential")
    enr.add_argument("--if-needed", action="store_true", help="keep a credential the back office still accepts")
    enr.set_defaults(func=cmd_enrol)
    dlv = sub.add_parser("deliveries", help="cases waiting for (or refused by) the back office")
    dlv.add_argument("deliveries_command", nargs="?", choices=["list", "retry"], default="list")
    dlv.set_defaults(func=cmd_deliveries)

    rel = sub.add_parser("release", help="installed releases: self-check, confirm, status"
                         ).add_subparsers(dest="release_command", required=True)
    for name, text in (("selfcheck", "check this release on a copy of the database (before a switch)"),
                       ("confirm", "check the running release and mark it healthy (after a switch)"),
                       ("migrate", "migrate the live database to this release (make install, after the switch)"),
                       ("status", "current, previous and pending release")):
        r = rel.add_parser(name, help=text)
        r.add_argument("--root", default="", help="staging root (DESTDIR)")
        r.add_argument("--no-imports", action="store_true", help="skip the import check (installs without deps)")
        r.set_defaults(func=cmd_release)
    rb = sub.add_parser("rollback", help="go back to the previous release and restart the kiosk")
    rb.add_argument("--root", default="", help="staging root (DESTDIR)")
    rb.set_defaults(func=cmd_rollback)

    from kiosk.calibrate_cli import add_calibrate_commands
    from kiosk.locker_cli import add_locker_commands

    add_locker_commands(sub)
    add_calibrate_commands(sub)
    cfgp = sub.add_parser("config", help="configuration").add_subparsers(dest="config_command", required=True)
    cfgp.add_parser("check", help="validate the configuration file").set_defaults(func=cmd_config_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)  # before anything imports Kivy (see kiosk.logsetup)
    try:
        cfg = load_config(args.config)
        mode = "simulator" if cfg.simulator.enabled else "hardware"
        log.debug("kiosk %s with %s (%s mode)", args.command, cfg.path, mode)
        return int(args.func(cfg, args))
    except KioskError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
