"""Several locker boards on one RS-485 bus, one command at a time.

Rules taken from practice (PROTOCOLS.md section 3, Open-Locker, eformLockerRoom):
- strictly one request/answer on the bus at a time, and at least ``gap_ms`` between the end of
  one exchange and the next request; after an open also the board's ``pulse_ms``, so two lock
  coils never pull at the same time and sag the 12 V supply;
- an open is sent once. When its answer does not come (or comes garbled) the lock may have pulsed,
  so ``LockOutcomeUnknown`` is raised and the caller settles it from the door sensors; status
  queries are harmless and are retried once;
- nothing is opened by the driver on its own, at start-up or ever. CU48 boards only pulse and
  latch no output, so "all outputs off" at start-up is their power-on state: ``all_outputs_off``
  sends nothing to them (a family with latched outputs would override that).
"""

from __future__ import annotations

import logging
import threading
import time

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceCancelled, DeviceOffline, DeviceTimeout, ProtocolError
from devices.lockerboard.errors import (
    LockerAddressError,
    LockerBoardSilent,
    LockerConfigError,
    LockerFrameError,
    LockerPortLost,
    LockOutcomeUnknown,
    LockRefused,
)
from devices.lockerboard.messages import Answer, DoorState, OpenAnswer, StatusAnswer
from devices.lockerboard.protocols import BoardProtocol, get_protocol
from devices.serial_link import SerialLink
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

NAME = "lockers"
_STATUS_ATTEMPTS = 2  # a status query is idempotent: one retry hides a burst of line noise


class LockerBus:
    """The locker boards sharing one serial port."""

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        *,
        boards: dict[int, str],
        pulse_ms: int = 400,
        gap_ms: int = 300,
        timeout: float = 0.5,
        name: str = NAME,
    ) -> None:
        if not boards:
            raise LockerConfigError("a locker bus needs at least one board", device=name)
        self.name = name
        self.boards: dict[int, BoardProtocol] = {}
        for address, proto_name in boards.items():
            proto = get_protocol(proto_name)
            proto.check_address(address)
            self.boards[address] = proto
        self.pulse_s = pulse_ms / 1000
        self.gap_s = gap_ms / 1000
        self.timeout = timeout
        self.status = StatusTracker(name)
        self._link = SerialLink(port, baudrate, device=name, rs485=True)
        self._next_send = 0.0  # monotonic time before which no request may be sent
        self._silent: set[int] = set()
        self._open_log: dict[tuple[int, int], float] = {}  # (board, lock) → monotonic time sent
        self._log_lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port. Nothing is sent: no board is asked to open anything at start-up."""
        with self._link.lock:
            try:
                self._link.open()
            except DeviceOffline as exc:
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise LockerPortLost(exc.message, device=self.name) from exc
            self.status.set(DeviceStatus.OFFLINE, "port open, no board has answered yet")

    def close(self) -> None:
        with self._link.lock:
            self._link.close()
            self.status.set(DeviceStatus.OFFLINE, "closed")

    def __enter__(self) -> LockerBus:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def all_outputs_off(self) -> None:
        """Make sure no lock output is energised; for pulse boards (CU48) that is a no-op.

        CU48 outputs are pulses timed by the board, so after power-on (or after our crash) no
        output can be left on and there is no "all off" command to send. Kept as a method so the
        start-up sequence is the same for a future family with latched outputs.
        """
        for address, proto in self.boards.items():
            if proto.latched_outputs:  # pragma: no cover - no such family yet
                raise LockerConfigError(f"{proto.name} on board {address}: all-off not implemented")

    # -- commands -----------------------------------------------------------------------------
    def open_lock(
        self, board: int, lock: int, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> None:
        """Pulse one lock once. Raises LockOutcomeUnknown when its answer did not come back.

        ``cancel`` only stops the wait for the bus; once the open is on the wire its answer is
        awaited regardless, because abandoning it would leave the outcome unknown for no gain.
        """
        proto = self._protocol(board)
        proto.check_address(board, lock)
        request = proto.encode_open(board, lock)
        wait = self.timeout if timeout is None else timeout
        with self._link.lock:
            self._before_request(cancel)
            try:
                self._link.write(request)
            except DeviceOffline as exc:
                self._port_lost(exc)
                raise LockerPortLost(exc.message, device=self.name) from exc
            with self._log_lock:
                self._open_log[(board, lock)] = time.monotonic()
            log.info("%s: open board %d lock %d", self.name, board, lock)
            try:
                answer = self._read_answer(proto, Deadline(wait, f"open {board}/{lock}", self.name), None)
                self._expect_open(answer, board, lock)
            except (DeviceTimeout, ProtocolError, DeviceOffline) as exc:
                if isinstance(exc, DeviceOffline):
                    self._port_lost(exc)
                elif isinstance(exc, DeviceTimeout):
                    self._board_silent(board, f"open {board}/{lock}: {exc.message}")
                else:
                    self._settle_status()
                log.warning("%s: outcome of open %d/%d unknown: %s", self.name, board, lock, exc)
                raise LockOutcomeUnknown(
                    f"open board {board} lock {lock}: no valid answer ({exc.message}); "
                    "check the door sensor, do not resend",
                    board=board, lock=lock, device=self.name,
                ) from exc
            finally:
                self._next_send = time.monotonic() + self.pulse_s + self.gap_s
            self._board_answered(board)
        assert isinstance(answer, OpenAnswer)
        if not answer.accepted:
            raise LockRefused(f"board {board} refused to open lock {lock}", device=self.name)

    def door_states(
        self, board: int, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> dict[int, DoorState]:
        """Every door sensor of one board, keyed by lock number."""
        proto = self._protocol(board)
        request = proto.encode_status(board)
        wait = self.timeout if timeout is None else timeout
        last: DeviceTimeout | ProtocolError | None = None
        with self._link.lock:
            for _ in range(_STATUS_ATTEMPTS):
                self._before_request(cancel)
                try:
                    self._link.write(request)
                    answer = self._read_answer(proto, Deadline(wait, f"status {board}", self.name), cancel)
                    if not isinstance(answer, StatusAnswer) or answer.board != board:
                        raise LockerFrameError(f"board {board} status got {answer!r}", device=self.name)
                except DeviceCancelled:
                    self._settle_status()
                    raise
                except DeviceOffline as exc:
                    self._port_lost(exc)
                    raise LockerPortLost(exc.message, device=self.name) from exc
                except (DeviceTimeout, ProtocolError) as exc:
                    last = exc
                    continue
                finally:
                    self._next_send = time.monotonic() + self.gap_s
                self._board_answered(board)
                return dict(answer.doors)
            self._board_silent(board, f"board {board}: {last.message if last else 'no answer'}")
        raise LockerBoardSilent(
            f"board {board} gives no valid answer ({last.message if last else 'no answer'})", device=self.name
        ) from last

    def all_door_states(
        self, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> dict[int, dict[int, DoorState]]:
        """Door sensors of every board that answers; silent boards are left out (see ``silent_boards``)."""
        out: dict[int, dict[int, DoorState]] = {}
        for board in self.boards:
            try:
                out[board] = self.door_states(board, timeout=timeout, cancel=cancel)
            except LockerBoardSilent:
                continue
        return out

    def probe(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """Ask every configured board for its door states; raises unless all of them answer."""
        if not self._link.is_open:
            self.open()
        states = self.all_door_states(timeout=timeout, cancel=cancel)
        silent = sorted(set(self.boards) - set(states))
        if silent:
            raise LockerBoardSilent(
                f"board(s) {silent} do not answer; answering: {sorted(states)}", device=self.name
            )
        locks = sum(len(s) for s in states.values())
        opened = sum(1 for s in states.values() for d in s.values() if d is DoorState.OPEN)
        kinds = ", ".join(f"{b}:{self.boards[b].name}" for b in sorted(states))
        return f"{len(states)} board(s) [{kinds}], {locks} locks, {opened} door(s) open"

    # -- facts for the door watcher -----------------------------------------------------------
    @property
    def silent_boards(self) -> set[int]:
        return set(self._silent)

    def open_commands(self) -> dict[tuple[int, int], float]:
        """When each lock was last sent an open (monotonic seconds), for door confirmation."""
        with self._log_lock:
            return dict(self._open_log)

    # -- internals ----------------------------------------------------------------------------
    def _protocol(self, board: int) -> BoardProtocol:
        try:
            return self.boards[board]
        except KeyError:
            raise LockerAddressError(
                f"board {board} is not configured (boards: {sorted(self.boards)})", device=self.name
            ) from None

    def _before_request(self, cancel: CancelToken | None) -> None:
        """Reopen a lost port, honour the bus gap, mark BUSY and drop stale answer bytes."""
        if not self._link.is_open:
            try:
                self._link.open()
            except DeviceOffline as exc:
                self._port_lost(exc)
                raise LockerPortLost(exc.message, device=self.name) from exc
        delay = self._next_send - time.monotonic()
        if delay > 0:
            if cancel is not None:
                if cancel.wait(delay):
                    raise DeviceCancelled("locker command cancelled", device=self.name)
            else:
                time.sleep(delay)
        if cancel is not None and cancel.cancelled:
            raise DeviceCancelled("locker command cancelled", device=self.name)
        self.status.set(DeviceStatus.BUSY, "command running")
        try:
            self._link.discard_input()
        except DeviceOffline as exc:
            self._port_lost(exc)
            raise LockerPortLost(exc.message, device=self.name) from exc

    def _read_answer(self, proto: BoardProtocol, deadline: Deadline, cancel: CancelToken | None) -> Answer:
        self._link.read_until_byte(bytes([proto.start_byte]), deadline, cancel)
        header = bytes([proto.start_byte]) + self._link.read_exact(
            proto.answer_header_length - 1, deadline, cancel
        )
        length = proto.answer_length(header)
        rest = self._link.read_exact(length - len(header), deadline, cancel)
        return proto.parse_answer(header + rest)

    def _expect_open(self, answer: Answer, board: int, lock: int) -> None:
        if not isinstance(answer, OpenAnswer) or answer.board != board or answer.lock != lock:
            raise LockerFrameError(f"open {board}/{lock} answered with {answer!r}", device=self.name)

    def _board_answered(self, board: int) -> None:
        self._silent.discard(board)
        self._settle_status()

    def _board_silent(self, board: int, detail: str) -> None:
        self._silent.add(board)
        log.warning("%s: %s", self.name, detail)
        self._settle_status()

    def _settle_status(self) -> None:
        """ONLINE while any board answers (silent ones named in the detail); OFFLINE when none does."""
        if not self._link.is_open:
            self.status.set(DeviceStatus.OFFLINE, "port closed")
        elif self._silent >= set(self.boards):
            self.status.set(DeviceStatus.OFFLINE, f"no board answers ({sorted(self._silent)})")
        elif self._silent:
            self.status.set(DeviceStatus.ONLINE, f"board(s) {sorted(self._silent)} not answering")
        else:
            self.status.set(DeviceStatus.ONLINE, "")

    def _port_lost(self, exc: DeviceOffline) -> None:
        self._link.close()
        self.status.set(DeviceStatus.OFFLINE, str(exc))
