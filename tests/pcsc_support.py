"""The real PC/SC stack for the pcsc tests: which pcscd runs, whether the tests own it, restarting it.

scripts/test.sh starts ``pcscd -f -a`` when none runs and hands it to the tests through
``KIOSK_TEST_PCSCD_PIDFILE``. Run directly with no pcscd running, the tests start their own and stop
it when the interpreter exits. A pcscd that neither started (systemd's, a developer's) is used but
never killed, so the restart test is skipped then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from smartcard import scard

PCSCD = shutil.which("pcscd") or next(
    (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.access(p, os.X_OK)), None
)
SKIP_REASON = "pcscd is not installed (Debian packages pcscd and vsmartcard-vpcd; see scripts/setup.sh)"
PIDFILE_ENV = "KIOSK_TEST_PCSCD_PIDFILE"
BADGE_READER = "Virtual PCD 00 00"  # vpcd slot 0: virtual cards connect to TCP 35963
DOOR_READER = "Virtual PCD 00 01"  # vpcd slot 1: TCP 35964
# The test modules that attach virtual cards to vpcd's fixed ports (or start `make run`, which does, and
# its back office on 8765). tests/conftest.py makes them one pytest-xdist work unit, so no two of them
# ever run at the same time; ``Pcscd.ensure`` refuses a module missing here.
VPCD_MODULES = frozenset(
    f"tests/{name}.py"
    for name in ("test_cli_sim", "test_flow_door_entry", "test_flow_staff_results", "test_pcsc_reader",
                 "test_run_stop", "test_trust_logging", "test_ui_kiosk_run")
)


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll instead of sleeping fixed times; True as soon as the predicate holds."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def pcscd_ready() -> bool:
    """pcscd answers and vpcd's two readers are registered (so their TCP ports are open)."""
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        hresult, names = scard.SCardListReaders(ctx, [])
        return hresult == scard.SCARD_S_SUCCESS and BADGE_READER in names and DOOR_READER in names
    finally:
        scard.SCardReleaseContext(ctx)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_pcscd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "pcscd"
    except OSError:
        return False


class Pcscd:
    """The pcscd of this test session."""

    def __init__(self) -> None:
        self.pid: int | None = None  # set only for a pcscd this run started (test.sh or us)
        self.pidfile: Path | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / "kiosk-test-pcscd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def owned(self) -> bool:
        return self.pid is not None

    def ensure(self) -> None:
        """Make sure a pcscd with vpcd answers; adopt test.sh's or start one."""
        module = os.environ.get("PYTEST_CURRENT_TEST", "").split("::", 1)[0]
        if module and module not in VPCD_MODULES:
            raise AssertionError(f"{module} uses vpcd: add it to VPCD_MODULES in tests/pcsc_support.py, or it "
                                 "may run beside another vpcd user on the other core and take its card")
        pidfile = os.environ.get(PIDFILE_ENV)
        if pidfile and self.pidfile is None:
            with contextlib.suppress(OSError, ValueError):
                pid = int(Path(pidfile).read_text().strip())
                if _is_pcscd(pid):
                    self.pid, self.pidfile = pid, Path(pidfile)
                    self.log = self.pidfile.parent / "pcscd.log"
        if wait_until(pcscd_ready, timeout=5 if self.pid else 0.5):
            return
        if not self.owned and self._running_foreign():
            raise RuntimeError("a pcscd not started by the tests runs but does not offer vpcd's readers")
        self.start()

    def _running_foreign(self) -> bool:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != self.pid]
        return any(_is_pcscd(pid) and _alive(pid) for pid in pids)

    def start(self) -> None:
        assert PCSCD is not None
        with open(self.log, "ab") as log:
            # -f: foreground, logs to stdout (our log file, never the test's output); -a: APDUs too.
            self._proc = subprocess.Popen(
                [PCSCD, "-f", "-a"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        if self.pidfile is not None:
            self.pidfile.write_text(f"{self.pid}\n")  # test.sh stops this one at exit
        else:
            atexit.register(self.stop)
        if not wait_until(pcscd_ready, timeout=10):
            raise RuntimeError(f"pcscd did not come up; see {self.log}")

    def stop(self) -> None:
        """Stop the pcscd this run owns and wait until it is gone."""
        pid = self.pid
        if pid is None or not _is_pcscd(pid):
            return
        os.kill(pid, signal.SIGTERM)
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        wait_until(lambda: not _alive(pid), timeout=5)
        wait_until(lambda: not Path("/run/pcscd/pcscd.comm").exists(), timeout=2)

    def restart(self, while_down: Callable[[], None] | None = None) -> None:
        """Kill the owned pcscd and start a fresh one; ``while_down`` runs in between."""
        if not self.owned:
            raise RuntimeError("refusing to restart a pcscd this test run did not start")
        self.stop()
        if while_down is not None:
            while_down()
        self.start()


PCSCD_STACK = Pcscd()
