"""The small state-machine base every flow is built on.

Why it is shaped like this: a flow is driven from three sides at once — the UI (``handle``), the
clock (``tick``) and device calls that block for seconds (a finger on the sensor, a door that must
close). The UI must never wait for a device, so every blocking call runs on a worker thread of its
own (``run_blocking``) and its result comes back into the machine under the machine's lock. Each
state change bumps a *generation* and cancels the previous step's ``CancelToken``, so a late result
from a step the resident already left (cancel, time-out) is dropped instead of moving the flow.

What to show is never kept anywhere but in the published ``View``; a UI renders that and nothing
else, and a test reads the same ``View``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from devices.cancel import CancelToken
from devices.errors import KioskError
from flows.view import Screen, UserEvent, View, ViewPublisher

log = logging.getLogger(__name__)

T = TypeVar("T")

IDLE = "idle"
ENDED = "ended"  # a closing message is on screen; the next tick after its time-out goes idle


class FlowMachine:
    """States are plain strings; subclasses implement ``on_action`` / ``on_timeout`` / ``on_cancel``."""

    flow_name = "flow"
    #: seconds a step may last before ``on_timeout``; a subclass or the constructor overrides
    default_timeouts: Mapping[str, float] = {}
    end_message_s = 10.0

    def __init__(
        self,
        *,
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.timeouts: dict[str, float] = {**self.default_timeouts, **(timeouts or {})}
        self.publisher = ViewPublisher(View(Screen.IDLE, IDLE))
        self._lock = threading.RLock()
        self.state = IDLE
        self.outcome: str | None = None  # why the last run ended ("committed", "cancelled", …)
        self._gen = 0
        self._cancel = CancelToken()
        self._deadline: float | None = None
        self._workers: list[threading.Thread] = []
        self.history: list[str] = [IDLE]  # states entered, for tests and the log

    # -- reading ---------------------------------------------------------------------------------
    @property
    def view(self) -> View:
        return self.publisher.view

    @property
    def active(self) -> bool:
        return self.state not in (IDLE, ENDED)

    def busy_workers(self) -> int:
        with self._lock:
            self._workers = [t for t in self._workers if t.is_alive()]
            return len(self._workers)

    # -- driving ---------------------------------------------------------------------------------
    def handle(self, event: UserEvent) -> bool:
        """A touch from the UI; True when the flow took it (anything not offered is ignored)."""
        with self._lock:
            if event.action == "cancel" and self.active:
                log.info("%s: cancel in %s", self.flow_name, self.state)
                self._guard(self.on_cancel)
                return True
            if event.action not in self.view.actions:
                log.debug("%s: ignored %r in %s", self.flow_name, event.action, self.state)
                return False
            if self.state == ENDED:
                self.go_idle()
                return True
            self._guard(lambda: self.on_action(self.state, event.action, dict(event.data)))
            return True

    def tick(self, now: float | None = None) -> None:
        """Called by the app's clock (every ~0.5 s) and by tests: fires the current step's time-out."""
        with self._lock:
            now = self.clock() if now is None else now
            if self._deadline is None or now < self._deadline:
                return
            self._deadline = None
            if self.state == ENDED:
                self.go_idle()
                return
            log.info("%s: time-out in %s", self.flow_name, self.state)
            self._guard(lambda: self.on_timeout(self.state))

    # -- for subclasses --------------------------------------------------------------------------
    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_timeout(self, state: str) -> None:
        self.end("timeout", "flow.timed_out")

    def on_cancel(self) -> None:
        self.end("cancelled", "flow.cancelled")

    def on_end(self, outcome: str) -> None:
        """Wipe whatever the run held (a subclass hook; runs once per run, under the lock)."""

    def enter(
        self,
        state: str,
        screen: Screen,
        message: str = "",
        *,
        params: dict[str, Any] | None = None,
        actions: tuple[str, ...] = ("cancel",),
        timeout: float | None = ...,  # type: ignore[assignment]
        busy: bool = False,
        progress: float | None = None,
    ) -> int:
        """Move to ``state`` and publish its view; returns the new generation."""
        with self._lock:
            self._cancel.cancel()  # a worker still running for the step we leave stops now
            self._cancel = CancelToken()
            self._gen += 1
            self.state = state
            self.history.append(state)
            seconds = self.timeouts.get(state) if timeout is ... else timeout
            self._deadline = None if seconds is None else self.clock() + seconds
            self.publisher.publish(
                View(
                    screen=screen,
                    step=state,
                    message=message,
                    params=dict(params or {}),
                    actions=actions,
                    progress=progress,
                    deadline=self._deadline,
                    busy=busy,
                )
            )
            return self._gen

    def update(self, gen: int, **changes: Any) -> None:
        """Republish the current step's view with some fields changed (progress from a worker)."""
        with self._lock:
            if gen != self._gen:
                return
            v = self.view
            fields = {
                "screen": v.screen,
                "step": v.step,
                "message": v.message,
                "params": v.params,
                "actions": v.actions,
                "progress": v.progress,
                "deadline": v.deadline,
                "busy": v.busy,
            }
            if "params" in changes:
                changes["params"] = {**v.params, **changes["params"]}
            fields.update(changes)
            self.publisher.publish(View(**fields))

    def extend_deadline(self, gen: int, seconds: float) -> None:
        with self._lock:
            if gen == self._gen:
                self._deadline = self.clock() + seconds

    def current(self, gen: int) -> bool:
        return gen == self._gen

    def run_blocking(
        self,
        what: str,
        call: Callable[[CancelToken], T],
        on_ok: Callable[[T], None],
        on_error: Callable[[KioskError], None],
    ) -> None:
        """Run ``call(cancel)`` on a worker thread; its outcome is handed back under the lock.

        Only the step that started the call may act on its result: if the flow moved on (cancel,
        time-out) meanwhile, the result is logged and dropped. A non-kiosk exception is a bug: it
        is logged with its traceback and ends the flow with a staff message.
        """
        with self._lock:
            gen, cancel = self._gen, self._cancel

        def work() -> None:
            try:
                result = call(cancel)
            except KioskError as exc:
                err = exc
                log.warning("%s: %s failed: %s", self.flow_name, what, err)
                self._deliver(gen, what, lambda: on_error(err), f"failed: {err}")
                return
            except Exception:
                log.exception("%s: %s crashed", self.flow_name, what)
                self._deliver(gen, what, lambda: self.end("error", "flow.error_staff"), "crashed")
                return
            self._deliver(gen, what, lambda: on_ok(result), "done")

        thread = threading.Thread(target=work, name=f"{self.flow_name}-{what}", daemon=True)
        with self._lock:
            self._workers = [t for t in self._workers if t.is_alive()]
            self._workers.append(thread)
        thread.start()

    def _deliver(self, gen: int, what: str, action: Callable[[], None], how: str) -> None:
        with self._lock:
            if gen != self._gen:
                log.info("%s: %s %s after the flow moved on; dropped", self.flow_name, what, how)
                return
            self._guard(action)

    def _guard(self, action: Callable[[], None]) -> None:
        """Run a transition; an unexpected error ends the flow safely instead of freezing it."""
        try:
            action()
        except KioskError as exc:
            log.error("%s: %s in %s", self.flow_name, exc, self.state)
            self.end("error", exc.code if exc.code.startswith("flow.") else "flow.error_staff")
        except Exception:
            log.exception("%s: transition failed in %s", self.flow_name, self.state)
            self.end("error", "flow.error_staff")

    def end(self, outcome: str, message: str = "", *, params: dict[str, Any] | None = None) -> None:
        """Finish this run: wipe (``on_end``), then show ``message`` (if any) until OK or its time-out."""
        with self._lock:
            if self.state in (IDLE, ENDED):
                return
            self.outcome = outcome
            log.info("%s: ended (%s) in %s", self.flow_name, outcome, self.state)
            try:
                self.on_end(outcome)
            except Exception:
                log.exception("%s: wiping the session failed", self.flow_name)
            if message:
                self.enter(ENDED, Screen.MESSAGE, message, params=params, actions=("ok",), timeout=self.end_message_s)
            else:
                self.go_idle()

    def go_idle(self) -> None:
        with self._lock:
            self.enter(IDLE, Screen.IDLE, actions=(), timeout=None)


class Ticker:
    """Calls ``tick()`` on machines at an interval from its own thread (the app may use Kivy's Clock instead)."""

    def __init__(self, *machines: FlowMachine, interval: float = 0.2) -> None:
        self.machines = machines
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Ticker:
        self._thread = threading.Thread(target=self._run, name="flow-ticker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for m in self.machines:
                m.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
