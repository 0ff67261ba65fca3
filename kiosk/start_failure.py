"""When the kiosk cannot start: the out-of-service screen, a staff alert and systemd told, not a crash loop.

``KioskRuntime(cfg).start()`` refuses to run on a database too damaged to open, a wrong or missing
data key, the demo staff account in hardware mode, an unreadable guide file, a data partition not
mounted yet. Letting that exception escape ``kiosk app`` made systemd restart the app every few
seconds: a blank screen in a restart loop for the resident at night, and the cause scrolled away in
the journal. Instead the app runs with ``StartFailureHost``: a flow host with one View, the existing
out-of-service screen, saying "暂停服务，请联系工作人员" to residents and a short reason for staff
(a category, never the message: messages name paths, and no screen shows more than it must).

Nothing here touches the files that failed: a damaged database is evidence and the source of a
restore; "repairing" it could lose cases residents hold receipts for. The fix is named in the log
(the exception's own message, which names the key id or the backup) and by ``kiosk doctor``.

The staff alert cannot go through the outbox, which lives in the database that may be the broken
part: one direct attempt through apprise (``locker.outbox.send_direct``); a failure is logged only.

A failure that may pass by itself (an ``OSError``: the data partition not mounted yet at boot; a
busy or unopenable SQLite file) is re-checked every ``RETRY_S`` seconds by starting the runtime in
full and closing it again. On success the app exits with ``RESTART_EXIT_CODE`` and systemd
(``Restart=always``, ``RestartSec=3`` in systemd/kiosk*.service) starts the normal app: swapping the
flow host under a running ``KioskApp`` would leave its event sender, view subscription and device
watch bound to the stand-in, and a fresh process is what a normal start is. A permanent failure
stays on screen until staff fix it and restart the service.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.errors import KioskError
from flows.view import Screen, UserEvent, View, ViewPublisher
from kiosk.sdnotify import Notifier
from locker.errors import KeyFileError, StoreError

log = logging.getLogger(__name__)

# What a start can fail with on purpose or through the files it opens; anything else (TypeError, …)
# is a programming error and still crashes, so it is seen and fixed rather than shown as "out of service".
EXPECTED_START_ERRORS: tuple[type[BaseException], ...] = (KioskError, sqlite3.DatabaseError, OSError)
RETRY_S = 30.0  # how often a transient failure is re-checked
RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: the re-check passed; systemd's Restart=always starts the normal app
HELP_ALERT_EVERY_S = 60.0  # presses of 一键呼叫 on the stand-in screen: at most one alert a minute
STEP = "start_failed"
MARKER = "start-failed"  # in $RUNTIME_DIRECTORY (/run/kiosk): `kiosk release confirm` must not confirm this start


def marker_path() -> Path | None:
    """Where the app says it is up but did not start: systemd's RuntimeDirectory, emptied at every stop."""
    runtime_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(runtime_dir) / MARKER if runtime_dir else None


def read_marker() -> str | None:
    """The STATUS line of a start that failed in this service run, or None (started, or not under systemd)."""
    path = marker_path()
    try:
        return path.read_text(encoding="utf-8").strip() if path is not None else None
    except OSError:
        return None


@dataclass(frozen=True)
class StartFailure:
    """Why the start failed: ``kind`` for the screen and systemd, ``message`` (names the fix) for the log."""

    kind: str  # "database" | "key" | "storage" | "config"
    message: str
    error: str  # the exception class, for the log and the alert
    transient: bool
    fix: str = ""  # for a database SQLite cannot open: the newest backup to restore (its message lacks it)

    @property
    def log_line(self) -> str:
        return f"({self.kind}, {self.error}): {self.message}" + (f" — to fix: {self.fix}" if self.fix else "")

    @property
    def status(self) -> str:
        """systemd's STATUS= line (``systemctl status kiosk``): the kind and the message's first line."""
        first = self.message.splitlines()[0] if self.message else self.error
        retry = f"; retrying every {RETRY_S:.0f} s" if self.transient else ""
        return f"OUT OF SERVICE: start failed ({self.kind}{retry}): {first}"[:400]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def with_fix(failure: StartFailure, data_dir: Path | None) -> StartFailure:
    """A damaged database's failure with the fix `kiosk doctor` names (the newest backup, the file kept)."""
    if failure.kind != "database" or data_dir is None or failure.fix:
        return failure
    from kiosk.doctor import unopenable_fix
    from locker.store import DB_NAME

    return dataclasses.replace(failure, fix=unopenable_fix(data_dir / DB_NAME))


def classify(exc: BaseException) -> StartFailure:
    """Sort a start error into what staff must do: restore the key, restore the database, fix config, wait."""
    chain = _chain(exc)
    message = exc.message if isinstance(exc, KioskError) else str(exc)
    error = type(exc).__name__
    if any(isinstance(e, KeyFileError) for e in chain):
        return StartFailure("key", message, error, transient=False)
    # a folder not mounted yet, a file busy or not openable: may pass by itself (sqlite3's
    # OperationalError is "unable to open database file", "database is locked", …)
    if any(isinstance(e, (OSError, sqlite3.OperationalError)) for e in chain):
        return StartFailure("storage", message, error, transient=True)
    if any(isinstance(e, (sqlite3.DatabaseError, StoreError)) for e in chain):
        return StartFailure("database", message, error, transient=False)  # "file is not a database", …
    return StartFailure("config", message, error, transient=False)


class StartFailureHost:
    """The app's flow host when the runtime did not start: the out-of-service screen and nothing else.

    ``recheck`` starts and closes the runtime (raising as the start did); ``urls`` are the
    configured ``[alerts] urls``. ``alert_result`` is None until the one alert attempt ended, then
    "" (sent) or why not. ``recovered`` is set when a re-check passed.
    """

    def __init__(
        self,
        failure: StartFailure,
        *,
        recheck: Callable[[], None] | None = None,
        urls: Sequence[str] = (),
        kiosk_name: str = "kiosk",
        notifier: Notifier | None = None,
        retry_s: float | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.failure = with_fix(failure, data_dir)
        self.recheck = recheck
        self.urls = list(urls)
        self.kiosk_name = kiosk_name
        self.notifier = notifier or Notifier()
        self.retry_s = RETRY_S if retry_s is None else retry_s
        self.alert_result: str | None = None
        self.recovered = False
        self.on_recovered: Callable[[], None] | None = None
        self.publisher = ViewPublisher(self._view())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_help = 0.0

    @classmethod
    def for_config(cls, cfg: Any, exc: BaseException) -> StartFailureHost:
        """Log the failure at CRITICAL and build the host that re-checks ``cfg``'s runtime."""
        store = getattr(cfg, "store", None)
        data_dir = Path(store.data_dir) if getattr(store, "data_dir", None) else None

        def recheck() -> None:
            from kiosk.runtime import KioskRuntime

            KioskRuntime(cfg).start().close()

        alerts = getattr(cfg, "alerts", None)
        host = cls(classify(exc), recheck=recheck, urls=list(getattr(alerts, "urls", ()) or ()),
                   kiosk_name=str(getattr(cfg, "name", "kiosk")), data_dir=data_dir)  # adds the fix
        log.critical("the kiosk could not start %s", host.failure.log_line)
        log.debug("start failure", exc_info=exc)
        if host.failure.transient:
            log.warning("start failure may be transient: re-checking every %.0f s", RETRY_S)
        return host

    # -- FlowHost ---------------------------------------------------------------------------------
    def _view(self) -> View:
        params = {
            "devices": [],
            "services": ["all"],
            "staff_reason": f"oos.start_{self.failure.kind}",
            # "staff have been notified" only once they have been
            "come_back": "oos.come_back" if self.alert_result == "" else "oos.sorry",
        }
        return View(Screen.OUT_OF_SERVICE, STEP, "oos.start_failed", params, ())

    def send(self, event: UserEvent) -> None:
        """Touches do nothing here but 一键呼叫, which tries to alert staff directly (no outbox)."""
        if event.action != "help":
            return
        log.warning("a resident pressed help on the out-of-service screen (start failed: %s)", self.failure.kind)
        now = time.monotonic()
        if self.urls and now - self._last_help >= HELP_ALERT_EVERY_S:
            self._last_help = now
            self._spawn("help-alert", lambda: self._alert(
                "kiosk.help", f"{self.kiosk_name}: a resident is asking for help at the kiosk",
                f"kiosk.help: a resident pressed 一键呼叫 at {self.kiosk_name}, which is out of service "
                f"(start failed: {self.failure.kind}).",
            ))

    def frame_source(self, camera: str) -> None:
        return None

    @property
    def systemd_status(self) -> str:
        """What the app sends with READY=1 (it is up, showing why it serves nobody)."""
        return self.failure.status

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> StartFailureHost:
        """The marker for `kiosk release confirm`, the staff alert (one attempt), the re-check loop."""
        self._write_marker()
        if self.urls:
            self._spawn("start-failed-alert", self._start_alert)
        else:
            self.alert_result = "no [alerts] urls configured"
            log.warning("no staff alert sent for the failed start: no [alerts] urls are configured")
        if self.failure.transient and self.recheck is not None:
            self._spawn("start-recheck", self._recheck_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        path = marker_path()
        if path is not None:
            path.unlink(missing_ok=True)

    def _write_marker(self) -> None:
        """Why: READY=1 now comes from an app that serves nobody, and ExecStartPost's `kiosk release
        confirm` must not take that for a healthy new release (the guard rolls back an unconfirmed one)."""
        path = marker_path()
        if path is None:
            return
        try:
            path.write_text(self.failure.status + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("cannot write %s: %s", path, exc)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _alert(self, kind: str, title: str, body: str) -> str:
        from locker.outbox import send_direct

        try:
            errors = send_direct(self.urls, title, body)
        except Exception as exc:  # best effort: an alert must never take the screen down
            errors = [f"{type(exc).__name__}: {exc}"]
        if errors:
            log.error("staff alert %s not sent: %s", kind, "; ".join(errors))
        else:
            log.info("staff alert %s sent", kind)
        return "; ".join(errors)

    def _start_alert(self) -> None:
        f = self.failure
        self.alert_result = self._alert(
            "kiosk.start_failed",
            f"{self.kiosk_name}: out of service, the kiosk could not start ({f.kind})",
            f"kiosk.start_failed: {f.message}\n" + (f"To fix: {f.fix}\n" if f.fix else "") + f"({f.error}; "
            + (f"re-checked every {self.retry_s:.0f} s" if f.transient else "stays out of service until fixed")
            + "; `kiosk doctor` names the fix)",
        )
        self.publisher.publish(self._view())

    def _recheck_loop(self) -> None:
        while not self._stop.wait(self.retry_s):
            try:
                assert self.recheck is not None
                self.recheck()
            except EXPECTED_START_ERRORS as exc:
                failure = with_fix(classify(exc), self.data_dir)
                if failure != self.failure:
                    log.critical("the kiosk still cannot start %s", failure.log_line)
                    self.failure = failure
                    self.notifier.status(failure.status)
                    self._write_marker()
                    self.publisher.publish(self._view())
                if not failure.transient:
                    return  # now a failure that needs staff: stay on screen
                continue
            except Exception:  # a programming error: restart into the normal start, which shows it
                log.exception("re-checking the start failed unexpectedly; restarting the app")
            else:
                log.warning("the kiosk can start now: restarting the app into normal service")
            self.recovered = True
            self.notifier.status("start re-check passed: restarting into normal service")
            if self.on_recovered is not None:
                self.on_recovered()
            return
