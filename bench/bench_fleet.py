"""The fleet at a province's scale: 1,000 simulated kiosks against 2 gunicorn app processes and one
PostgreSQL (fsync on) on this machine, over loopback.

Steady state. Each kiosk sends a heartbeat every 30 s and one case every 10 minutes with 3 MB of
scans (three real 1 MB PDFs in contract chunks, sent by the kiosk's own ``BackofficeClient``).
Time may be compressed with ``BENCH_FLEET_SPEEDUP`` (S): intervals become 30/S s and 600/S s, so
S=2 is twice the load of a whole province. Each kiosk starts at a random phase, as real ones do.
Figures: p50/p99 of a heartbeat (request to answer) and of a case (committed on the kiosk to
acknowledged by the back office, queueing included), counts checked in PostgreSQL afterwards (0
lost, 0 duplicated), and the CPU left over (from /proc/stat) with who used it.

Reconnection storm. All kiosks come back at once, each with ``BENCH_FLEET_STORM_CASES`` (3) queued
cases of 1 MB, sent one after the other per kiosk as the delivery worker does; 1 in 10 resends a
package after its acknowledgement (an answer lost on the way) to prove it is not stored twice.
Meanwhile every kiosk keeps its 30/S s heartbeat on its own thread: the figure says whether
heartbeats kept flowing. ``BENCH_FLEET_STORM_KIOSKS`` scales the storm down on a slow machine;
the section says when it did.

The load generator runs in this process on the same 2 cores (its CPU is reported apart).
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import contract

REPO = Path(__file__).resolve().parents[1]
KIOSKS = int(os.environ.get("BENCH_FLEET_KIOSKS", "1000"))
SPEEDUP = float(os.environ.get("BENCH_FLEET_SPEEDUP", "1"))
STEADY_S = float(os.environ.get("BENCH_FLEET_STEADY_S", "120"))
STORM_KIOSKS = int(os.environ.get("BENCH_FLEET_STORM_KIOSKS", str(KIOSKS)))
STORM_CASES = int(os.environ.get("BENCH_FLEET_STORM_CASES", "3"))
STORM_LIMIT_S = float(os.environ.get("BENCH_FLEET_STORM_LIMIT_S", "900"))
HEARTBEAT_S, CASE_S = 30.0, 600.0
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _code(n: int, prefix: str) -> str:
    out = ""
    for _ in range(7):
        n, r = divmod(n, 32)
        out = ALPHABET[r] + out
    return prefix + out


# --------------------------------------------------------------------------------------------
# CPU accounting from /proc


def _jiffies_total() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts[:8]), idle


def _proc_cpu(match: str) -> int:
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if match in cmd:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total


@dataclass
class Cpu:
    start: tuple[int, int] = field(default_factory=_jiffies_total)
    app0: int = field(default_factory=lambda: _proc_cpu("backoffice.wsgi"))
    load0: float = field(default_factory=lambda: os.getloadavg()[0])
    me0: float = field(default_factory=time.process_time)

    def done(self) -> dict[str, float]:
        total1, idle1 = _jiffies_total()
        total = max(1, total1 - self.start[0])
        hz = os.sysconf("SC_CLK_TCK")
        ncpu = os.cpu_count() or 1
        wall_cpu = total / hz  # cpu-seconds available in the interval (all cores)
        idle = (idle1 - self.start[1]) / total
        app = (_proc_cpu("backoffice.wsgi") - self.app0) / hz / wall_cpu
        generator = (time.process_time() - self.me0) / wall_cpu
        # PostgreSQL backends come and go, so their CPU is what is left once idle, the app
        # processes and the generator are counted (with anything else this machine runs meanwhile).
        return {"idle": idle, "app": app, "generator": generator, "pg": max(0.0, 1 - idle - app - generator),
                "cores": ncpu, "load": self.load0}


# --------------------------------------------------------------------------------------------
# The fleet


@dataclass
class SimKiosk:
    kiosk_id: str
    token: str
    audit_seq: int = 1
    challenge: tuple[int, ...] = ()

    def heartbeat(self) -> bytes:
        self.audit_seq += random.randint(0, 2)
        seq_hash = hashlib.sha256(f"{self.kiosk_id}:{self.audit_seq}".encode()).hexdigest()
        proofs = tuple(contract.AuditProof(s, hashlib.sha256(f"{self.kiosk_id}:{s}".encode()).hexdigest())
                       for s in self.challenge)
        now = time.time()
        hb = contract.Heartbeat(
            kiosk_id=self.kiosk_id, sent_at=now, interval_s=HEARTBEAT_S / SPEEDUP, software_version="0.2.0",
            disk_free_bytes=80 * 10**9, disk_total_bytes=120 * 10**9,
            devices=tuple(contract.DeviceReport(n, "online", "", now - 3600) for n in
                          ("idcard", "face_camera", "document_camera", "fingerprint", "printer", "lockers")),
            compartments=contract.CompartmentCounts(18, 6, 0, 24), originals_waiting=2,
            oldest_original_at=now - 3600, outbox_depth=0, oldest_undelivered_at=None, outbox_last_error=None,
            audit_seq=self.audit_seq, audit_hash=seq_hash, audit_proofs=proofs)
        return contract.dumps(hb)


def _enrol_fleet(n: int) -> list[SimKiosk]:
    from backoffice.accounts import actions as accounts
    from backoffice.kiosks import actions as kiosks

    town = accounts.ensure_town("province", "省")
    out = []
    for i in range(n):
        k, code = kiosks.create_kiosk(kiosk_id=f"k{i:04d}", name=f"村{i}", town=town, village=f"村{i}")
        out.append(SimKiosk(k.kiosk_id, kiosks.enrol(contract.EnrolRequest(code, "bench")).credential))
    return out


def _package(kiosk_id: str, code: str, files: dict[str, bytes]) -> bytes:
    now = time.time()
    pkg = contract.CasePackage(
        case_code=code, kiosk_id=kiosk_id, service=contract.Service("hukou", "户口迁移", "Household move", 10),
        identity=contract.IdentityData("张三丰", "44010119900101123X"), card_photo_jpeg_b64=None, phone="13812345678",
        checks=contract.Checks("matched", 0.4, 10, "blink", True),
        papers=tuple(contract.Paper(f.rsplit("-", 1)[0], "材料", "Paper", "scanned") for f in files),
        files=tuple(contract.ScanFile(f, f.rsplit("-", 1)[0], 1, "application/pdf", len(d),
                                      hashlib.sha256(d).hexdigest()) for f, d in files.items()),
        compartment_id="A01", receipt_printed=True, created_at=now - 60, committed_at=now)
    return contract.dumps(pkg)


class Fleet:
    """The load generator: each kiosk's calls through the kiosk's own client, results counted."""

    def __init__(self, url: str, kiosks: list[SimKiosk], files: dict[str, bytes]) -> None:
        self.url = url
        self.kiosks = kiosks
        self.files = files
        self.lock = threading.Lock()
        self.hb_latency: list[float] = []
        self.hb_ok = 0
        self.hb_failed = 0
        self.hb_lateness: list[float] = []
        self.case_latency: list[float] = []
        self.cases_acked: set[str] = set()
        self.case_failures: list[str] = []
        self.resent = 0
        self.busy = 0  # uploads told "503, come back later" (the storm's admission control)

    def _client(self, k: SimKiosk):  # type: ignore[no-untyped-def]
        from kiosk.sync.client import BackofficeClient

        return BackofficeClient(self.url, token=k.token, allow_plain=True, timeout=120)

    def beat(self, k: SimKiosk, due: float | None = None) -> None:
        client = self._client(k)
        a = time.perf_counter()
        try:
            _, raw = client.request("POST", "/fleet/heartbeat", k.heartbeat())
            import json

            answer = contract.HeartbeatAnswer.from_json(json.loads(raw))
            k.challenge = answer.audit_challenge
            with self.lock:
                self.hb_latency.append(time.perf_counter() - a)
                self.hb_ok += 1
                if due is not None:  # how stale the back office's picture got: due → answered
                    self.hb_lateness.append(time.time() - due)
        except Exception:  # noqa: BLE001 - counted, the kiosk would simply beat again
            with self.lock:
                self.hb_failed += 1
        finally:
            client.close()

    def deliver(self, k: SimKiosk, code: str, committed: float, files: dict[str, bytes] | None = None,
                resend: bool = False) -> None:
        files = files or self.files
        client = self._client(k)
        pkg = _package(k.kiosk_id, code, files)
        from kiosk.sync.errors import Unreachable

        try:
            attempt = 0
            while True:
                try:
                    receipt = client.put_case(code, pkg)
                    for fid in receipt.missing_files:
                        data = files[fid]
                        st = client.file_status(code, fid)
                        for start in range(st.received, len(data), contract.MAX_CHUNK_BYTES):
                            client.put_chunk(code, fid, start, data[start:start + contract.MAX_CHUNK_BYTES], len(data))
                    if receipt.missing_files:
                        receipt = client.put_case(code, pkg)
                    if not receipt.complete:
                        raise RuntimeError(f"still missing {receipt.missing_files}")
                    break
                except Exception as exc:  # noqa: BLE001 - the worker backs off and retries
                    if isinstance(exc, Unreachable) and exc.status == 503:  # "busy, come back": the kiosk
                        with self.lock:  # keeps the case and backs off, without counting a failed try
                            self.busy += 1
                        time.sleep(random.uniform(5, 10))
                        continue
                    attempt += 1
                    if attempt == 5:
                        with self.lock:
                            self.case_failures.append(f"{code}: {exc}")
                        return
                    time.sleep(attempt)
            with self.lock:
                self.case_latency.append(time.time() - committed)
                self.cases_acked.add(code)
            if resend:  # the acknowledgement was "lost": the kiosk sends the same package again
                again = client.put_case(code, pkg)
                assert not again.created and again.complete
                with self.lock:
                    self.resent += 1
        finally:
            client.close()


def _gunicorn(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DJANGO_SETTINGS_MODULE": "backoffice.settings",
           "BACKOFFICE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "backoffice.wsgi", "-b", f"127.0.0.1:{port}",
                             "-w", "2", "-k", "gthread", "--threads", "8", "--timeout", "120", "--backlog", "2048"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def steady(fleet: Fleet, duration: float) -> dict[str, float]:
    hb_every, case_every = HEARTBEAT_S / SPEEDUP, CASE_S / SPEEDUP
    rnd = random.Random(7)
    events: list[tuple[float, str, SimKiosk]] = []
    for k in fleet.kiosks:
        t = rnd.uniform(0, hb_every)
        while t < duration:
            events.append((t, "hb", k))
            t += hb_every
        t = rnd.uniform(0, case_every)
        while t < duration:
            events.append((t, "case", k))
            t += case_every
    events.sort(key=lambda e: e[0])
    hb_pool = ThreadPoolExecutor(24, thread_name_prefix="hb")
    case_pool = ThreadPoolExecutor(32, thread_name_prefix="case")
    n_case = 0
    cpu = Cpu()
    t0 = time.time()
    for at, kind, k in events:
        delay = t0 + at - time.time()
        if delay > 0:
            time.sleep(delay)
        if kind == "hb":
            hb_pool.submit(fleet.beat, k)
        else:
            n_case += 1
            case_pool.submit(fleet.deliver, k, _code(n_case, "S"), t0 + at)
    used = cpu.done()  # CPU over the sending window (the tail of in-flight work is not steady state)
    hb_pool.shutdown(wait=True)
    case_pool.shutdown(wait=True)
    return {**used, "cases_sent": n_case, "hb_sent": sum(1 for e in events if e[1] == "hb"),
            "drain_s": time.time() - t0 - duration}


def storm(fleet: Fleet, kiosks: list[SimKiosk], files_1mb: dict[str, bytes]) -> dict[str, float]:
    hb_every = HEARTBEAT_S / SPEEDUP
    stop = threading.Event()
    hb_before = len(fleet.hb_latency)
    fleet.hb_latency_storm_start = hb_before  # type: ignore[attr-defined]

    due_count = [0]

    def heartbeats() -> None:
        pool = ThreadPoolExecutor(64, thread_name_prefix="storm-hb")
        rnd = random.Random(11)
        nxt = {k.kiosk_id: time.time() + rnd.uniform(0, hb_every) for k in fleet.kiosks}
        while not stop.is_set():
            now = time.time()
            for k in fleet.kiosks:
                if nxt[k.kiosk_id] <= now:
                    due_count[0] += 1
                    pool.submit(fleet.beat, k, nxt[k.kiosk_id])
                    nxt[k.kiosk_id] += hb_every
            stop.wait(0.2)
        pool.shutdown(wait=True, cancel_futures=True)  # beats still queued at the end are not counted

    t0 = time.time()

    def one_kiosk(i: int, k: SimKiosk) -> None:
        for c in range(STORM_CASES):  # one after the other, as the kiosk's delivery worker sends them
            fleet.deliver(k, _code(i * STORM_CASES + c, "T"), t0, files_1mb, resend=(i * STORM_CASES + c) % 10 == 0)

    beat_thread = threading.Thread(target=heartbeats, daemon=True)
    beat_thread.start()
    cpu = Cpu()
    pool = ThreadPoolExecutor(48, thread_name_prefix="storm")
    futures = [pool.submit(one_kiosk, i, k) for i, k in enumerate(kiosks)]
    deadline = t0 + STORM_LIMIT_S
    for f in futures:
        f.result(timeout=max(1.0, deadline - time.time()))
    took = time.time() - t0
    used = cpu.done()
    with fleet.lock:
        during = fleet.hb_latency[hb_before:]
        late = list(fleet.hb_lateness)
        due = due_count[0]
    stop.set()
    beat_thread.join()
    pool.shutdown(wait=True)
    return {**used, "took_s": took, "hb_during": len(during), "hb_p50": _p(during, 0.5), "hb_p99": _p(during, 0.99),
            "hb_expected": due, "late_p50": _p(late, 0.5), "late_p99": _p(late, 0.99),
            "late_over": sum(1 for x in late if x > 3 * hb_every)}


def _check_db(acked: set[str], files_per_case: dict[str, int]) -> dict[str, int]:
    from django.db import connection

    from backoffice.cases.models import Case, CaseFile
    from backoffice.fleet.models import KioskState

    connection.close()
    codes = set(Case.objects.values_list("case_code", flat=True))
    total_rows = Case.objects.count()
    complete_files = CaseFile.objects.filter(complete=True).count() if hasattr(CaseFile, "complete") else -1
    return {"stored": len(codes), "rows": total_rows, "lost": len(acked - codes), "extra": len(codes - acked),
            "duplicated": total_rows - len(codes), "heartbeats": sum(KioskState.objects.values_list("heartbeats",
                                                                                                    flat=True)),
            "files_complete": complete_files, "files_expected": sum(files_per_case.get(c[0], 0) for c in codes)}


def run() -> dict[str, object]:
    from bench.bench_backoffice import Postgres, _django, _free_port, _scans

    with Postgres():
        _django()
        kiosks = _enrol_fleet(KIOSKS)
        files = _scans()  # three real 1 MB PDFs: 3 MB a case
        files_1mb = dict(list(files.items())[:1])
        port = _free_port()
        server = _gunicorn(port)
        try:
            from kiosk.sync.client import BackofficeClient

            probe = BackofficeClient(f"http://127.0.0.1:{port}", allow_plain=True)
            for _ in range(200):
                try:
                    probe.request("GET", "/openapi.json", None, auth=False)
                    break
                except Exception:  # noqa: BLE001 - still starting
                    time.sleep(0.1)
            probe.close()
            fleet = Fleet(f"http://127.0.0.1:{port}", kiosks, files)
            s = steady(fleet, STEADY_S)
            steady_hb = list(fleet.hb_latency)
            steady_cases = list(fleet.case_latency)
            acked_steady = set(fleet.cases_acked)
            hb_ok_steady, hb_failed_steady = fleet.hb_ok, fleet.hb_failed
            st = storm(fleet, kiosks[:STORM_KIOSKS], files_1mb)
            storm_cases = fleet.case_latency[len(steady_cases):]
            per_case = {"S": len(files), "T": len(files_1mb)}
            db = _check_db(fleet.cases_acked, per_case)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"steady": s, "steady_hb": steady_hb, "steady_cases": steady_cases, "acked_steady": len(acked_steady),
            "hb_ok_steady": hb_ok_steady, "hb_failed_steady": hb_failed_steady, "storm": st,
            "storm_cases": storm_cases, "db": db, "hb_ok": fleet.hb_ok, "hb_failed": fleet.hb_failed,
            "case_failures": fleet.case_failures, "resent": fleet.resent, "acked": len(fleet.cases_acked),
            "busy": fleet.busy}


def section() -> str:
    r = run()
    s, st, db = r["steady"], r["storm"], r["db"]  # type: ignore[index]
    hb, cases, scases = r["steady_hb"], r["steady_cases"], r["storm_cases"]
    ms = 1000.0
    mb_s = s["cases_sent"] * 3.0 / STEADY_S  # type: ignore[index]
    storm_n = STORM_KIOSKS * STORM_CASES
    scaled = "" if STORM_KIOSKS == KIOSKS else f" (scaled down to {STORM_KIOSKS} kiosks by BENCH_FLEET_STORM_KIOSKS)"
    failures = r["case_failures"]
    row_hb = (f"| heartbeat (request → answer, audit head kept, alerts judged) | {_p(hb, .5) * ms:.0f} ms | "
              f"{_p(hb, .99) * ms:.0f} ms | {r['hb_ok_steady']:,} ok, {r['hb_failed_steady']} failed |")
    row_case = (f"| case delivery (committed on the kiosk → acknowledged, queueing included) | "
                f"{_p(cases, .5) * ms:.0f} ms | {_p(cases, .99) * ms:.0f} ms | {r['acked_steady']:,} of "
                f"{s['cases_sent']:,} |")
    return f"""## The fleet: {KIOSKS:,} kiosks against 2 app processes and one PostgreSQL (`bench/bench_fleet.py`)

{KIOSKS:,} simulated kiosks (the kiosk's own `BackofficeClient`, one connection per call) against gunicorn
(2 processes × 8 threads) and one PostgreSQL (fsync on) on this {s['cores']}-core machine, over loopback. Time
compressed ×{SPEEDUP:g}: a heartbeat every {HEARTBEAT_S / SPEEDUP:g} s and a case of 3 MB (three real 1 MB PDFs
in 1 MiB chunks) every {CASE_S / SPEEDUP:g} s per kiosk, random phases, for {STEADY_S:.0f} s. The load generator
runs on the same cores (its share is below).

| steady state | p50 | p99 | count |
|---|---|---|---|
{row_hb}
{row_case}

Scans arriving: {mb_s:.1f} MB/s. CPU over the window: **{s['idle'] * 100:.0f}% idle**; app processes
{s['app'] * 100:.0f}%, load generator {s['generator'] * 100:.0f}%, PostgreSQL and everything else on the machine
{s['pg'] * 100:.0f}% (of all cores; load average {s['load']:.1f} when the window opened).
In-flight work after the last send drained in {s['drain_s']:.1f} s.

Reconnection storm{scaled}: {STORM_KIOSKS:,} kiosks at once, {STORM_CASES} queued cases of 1 MB each
({storm_n:,} cases, {storm_n / 1e3:.1f} GB), heartbeats continuing every {HEARTBEAT_S / SPEEDUP:g} s:
all delivered in **{st['took_s']:.0f} s** (case p50 {_p(scases, .5):.0f} s, p99 {_p(scases, .99):.0f} s from the
reconnection); {r['resent']} packages resent after their acknowledgement changed nothing; {r['busy']:,} upload
calls answered "503 busy, come back" (6 uploads in flight per app process, `BACKOFFICE_UPLOADS_PER_PROCESS`).
Heartbeats during the
storm: {st['hb_during']:,} answered of {st['hb_expected']:,} due, request p50 {st['hb_p50'] * ms:.0f} ms,
p99 {st['hb_p99'] * ms:.0f} ms; due → answered p50 {st['late_p50']:.1f} s, p99 {st['late_p99']:.1f} s
({st['late_over']} answered later than 3 intervals, when the dashboard would call the kiosk offline).
CPU idle during the storm: {st['idle'] * 100:.0f}% (app {st['app'] * 100:.0f}%,
generator {st['generator'] * 100:.0f}%, PostgreSQL and the rest {st['pg'] * 100:.0f}%).

Checked in PostgreSQL afterwards: {db['stored']:,} cases stored for {r['acked']:,} acknowledged — **{db['lost']}
lost, {db['duplicated']} duplicated**, {db['extra']} stored but never acknowledged; heartbeats counted
{db['heartbeats']:,} for {r['hb_ok']:,} answered. Deliveries given up after 5 tries: {len(failures)}
{('(' + '; '.join(failures[:3]) + ')') if failures else ''}.
"""


if __name__ == "__main__":
    print(section())
