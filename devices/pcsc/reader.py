"""Driver of a PC/SC contactless reader (staff badge reader, door reader) over pcscd.

Talks to pcscd through pyscard's thin ``smartcard.scard`` layer rather than its high-level
``CardMonitor``: that monitor's thread dies silently when pcscd restarts or the reader is
unplugged, and a kiosk must notice and come back by itself. Every call here works on a PC/SC
context of its own (established per call, or per connection in the watcher) so that a pcscd restart
costs one failed call, never a stale handle kept for ever.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from smartcard import scard

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceBusy, DeviceCancelled, DeviceTimeout
from devices.pcsc.errors import (
    CardError,
    CardRemoved,
    CardUnsupported,
    NoCard,
    PcscError,
    PcscProtocolError,
    PcscUnavailable,
    ReaderMissing,
)
from devices.pcsc.protocol import (
    GET_UID,
    IDCARD_GET_SERIAL,
    CardKind,
    ResponseApdu,
    classify_atr,
    parse_response,
    uid_hex,
)
from devices.privacy import mask_uid
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)


def _code(hresult: int) -> int:
    """pyscard hands back HRESULTs as Python ints of either sign; compare them as DWORDs."""
    return hresult & 0xFFFFFFFF


_OK = _code(scard.SCARD_S_SUCCESS)
_TIMEOUT = _code(scard.SCARD_E_TIMEOUT)
_CANCELLED = _code(scard.SCARD_E_CANCELLED)
_SERVICE_GONE = {
    _code(c)
    for c in (
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_INVALID_HANDLE,
        scard.SCARD_F_COMM_ERROR,
        scard.SCARD_E_NO_MEMORY,
        scard.SCARD_F_INTERNAL_ERROR,
    )
}
_READER_GONE = {
    _code(c)
    for c in (
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
    )
}
_CARD_GONE = {
    _code(c)
    for c in (
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_E_NOT_TRANSACTED,
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_E_PROTO_MISMATCH,
    )
}
_READER_LOST_STATES = scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE | scard.SCARD_STATE_IGNORE
_POLL_SLICE = 0.2  # longest wait inside pcscd before a cancel or a deadline is looked at


def _message(hresult: int) -> str:
    try:
        return str(scard.SCardGetErrorMessage(hresult))
    except Exception:  # pragma: no cover - pyscard gives a message for every code it knows
        return f"PC/SC error {_code(hresult):#010x}"


def raise_for(hresult: int, what: str, device: str) -> None:
    """Turn a PC/SC result code into the kiosk's error tree (nothing for success)."""
    code = _code(hresult)
    if code == _OK:
        return
    text = f"{what}: {_message(hresult)}"
    if code in _SERVICE_GONE:
        raise PcscUnavailable(f"{text} (is pcscd running?)", device=device)
    if code in _READER_GONE:
        raise ReaderMissing(text, device=device)
    if code in _CARD_GONE:
        raise CardRemoved(text, device=device)
    if code == _CANCELLED:
        raise DeviceCancelled(text, device=device)
    raise PcscError(text, device=device)


@contextlib.contextmanager
def pcsc_context(device: str) -> Iterator[int]:
    """A fresh PC/SC context, released on exit even when pcscd died meanwhile."""
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    raise_for(hresult, "cannot reach pcscd", device)
    try:
        yield ctx
    finally:
        with contextlib.suppress(Exception):
            scard.SCardReleaseContext(ctx)


def list_readers(ctx: int, device: str) -> list[str]:
    """Names of the readers pcscd knows now ([] when there are none)."""
    hresult, names = scard.SCardListReaders(ctx, [])
    if _code(hresult) == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    raise_for(hresult, "cannot list readers", device)
    return list(names)


def find_reader(ctx: int, pattern: str, device: str) -> str:
    names = list_readers(ctx, device)
    matches = [n for n in names if pattern in n]
    if not matches:
        raise ReaderMissing(f"no reader named like {pattern!r}; pcscd has {names}", device=device)
    return matches[0]


def read_card_uid(ctx: int, reader: str, device: str) -> str:
    """Connect to the card on ``reader`` and return its UID in upper-case hex.

    For a Chinese resident ID card, whose GET UID gives the all-zero PUPI on many readers, the
    card's own serial command is asked as well.
    """
    hresult, hcard, protocol = scard.SCardConnect(
        ctx, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    raise_for(hresult, "cannot connect to the card", device)
    try:
        hresult, _name, _state, _proto, atr = scard.SCardStatus(hcard)
        raise_for(hresult, "cannot read the card status", device)
        kind = classify_atr(bytes(atr))
        answer = _transmit(hcard, protocol, GET_UID, device)
        if kind is CardKind.IDCARD and (not answer.ok or not any(answer.data)):
            answer = _transmit(hcard, protocol, IDCARD_GET_SERIAL, device)
        if not answer.ok:
            raise CardUnsupported(f"card ({kind.value}) answered {answer.sw:04X} to GET UID", device=device)
        if not any(answer.data):
            raise CardUnsupported(f"card ({kind.value}) has no usable UID", device=device)
        return uid_hex(answer.data)
    finally:
        with contextlib.suppress(Exception):
            scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)


def _transmit(hcard: int, protocol: int, apdu: bytes, device: str) -> ResponseApdu:
    hresult, raw = scard.SCardTransmit(hcard, protocol, list(apdu))
    raise_for(hresult, f"APDU {apdu[:2].hex().upper()} failed", device)
    if not raw:
        # vpcd (and readers whose card leaves between command and answer) report success with no
        # bytes at all: no status word means the card is gone, not a malformed answer.
        raise CardRemoved(f"APDU {apdu[:2].hex().upper()} got no answer: card left the field", device=device)
    return parse_response(bytes(raw))


class PcscReader:
    """One reader, found by a part of its name, e.g. "ACR122" or "Virtual PCD 00 00"."""

    def __init__(self, name_pattern: str, *, device: str = "staff_badge", timeout: float = 10.0) -> None:
        self.name_pattern = name_pattern
        self.device = device
        self.timeout = timeout
        self.status = StatusTracker(device)
        self._busy = threading.Lock()

    def open(self) -> None:
        """Check pcscd and the reader once; nothing stays open (every call takes a fresh context)."""
        try:
            with pcsc_context(self.device) as ctx:
                name = find_reader(ctx, self.name_pattern, self.device)
        except (PcscUnavailable, ReaderMissing) as exc:
            self.status.set(DeviceStatus.OFFLINE, exc.message)
            raise
        self.status.set(DeviceStatus.ONLINE, name)

    def close(self) -> None:
        self.status.set(DeviceStatus.OFFLINE, "closed")

    def probe(self) -> str:
        """Check that pcscd answers and the reader is there; returns e.g. "Virtual PCD 00 00, no card"."""
        try:
            with pcsc_context(self.device) as ctx:
                name = find_reader(ctx, self.name_pattern, self.device)
                state = self._state(ctx, name, 0)
        except (PcscUnavailable, ReaderMissing) as exc:
            self.status.set(DeviceStatus.OFFLINE, exc.message)
            raise
        if self.status.status is not DeviceStatus.BUSY:
            self.status.set(DeviceStatus.ONLINE, name)
        card = "card present" if state & scard.SCARD_STATE_PRESENT else "no card"
        return f"{name}, {card}"

    def read_uid(self, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """Wait for a card (one already on the reader counts) and return its UID in upper-case hex."""
        deadline = Deadline(self.timeout if timeout is None else timeout, "waiting for a card", self.device)
        if not self._busy.acquire(blocking=False):
            raise DeviceBusy("another read is waiting on this reader", device=self.device)
        try:
            self.status.set(DeviceStatus.BUSY, "waiting for a card")
            with pcsc_context(self.device) as ctx:
                name = find_reader(ctx, self.name_pattern, self.device)
                self._wait_for(ctx, name, scard.SCARD_STATE_PRESENT, deadline, cancel)
                uid = read_card_uid(ctx, name, self.device)
            self.status.set(DeviceStatus.ONLINE, name)
            return uid
        except (PcscUnavailable, ReaderMissing) as exc:
            self.status.set(DeviceStatus.OFFLINE, exc.message)
            raise
        except (CardError, DeviceTimeout, DeviceCancelled, PcscError):
            self.status.set(DeviceStatus.ONLINE, self.name_pattern)
            raise
        finally:
            self._busy.release()

    def wait_removed(self, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Return once the reader holds no card (e.g. before asking for the next tap)."""
        deadline = Deadline(self.timeout if timeout is None else timeout, "waiting for card removal", self.device)
        try:
            with pcsc_context(self.device) as ctx:
                name = find_reader(ctx, self.name_pattern, self.device)
                self._wait_for(ctx, name, scard.SCARD_STATE_EMPTY, deadline, cancel)
        except (PcscUnavailable, ReaderMissing) as exc:
            self.status.set(DeviceStatus.OFFLINE, exc.message)
            raise

    # -- internals ---------------------------------------------------------------------------
    def _state(self, ctx: int, name: str, known: int, wait: float = 0.0) -> int:
        """The reader's event state; ``known`` when nothing changed within ``wait`` seconds."""
        hresult, states = scard.SCardGetStatusChange(ctx, int(wait * 1000), [(name, known)])
        if _code(hresult) == _TIMEOUT:
            return known
        raise_for(hresult, "cannot get the reader state", self.device)
        event = int(states[0][1])
        if event & _READER_LOST_STATES:
            raise ReaderMissing(f"reader {name!r} is gone", device=self.device)
        return event & ~scard.SCARD_STATE_CHANGED

    def _wait_for(
        self, ctx: int, name: str, flag: int, deadline: Deadline, cancel: CancelToken | None
    ) -> None:
        state = self._state(ctx, name, scard.SCARD_STATE_UNAWARE)
        while not state & flag:
            try:
                deadline.check(cancel)
            except DeviceTimeout:
                if flag == scard.SCARD_STATE_PRESENT:
                    raise NoCard(f"no card within {deadline.seconds:.1f} s", device=self.device) from None
                raise
            state = self._state(ctx, name, state, min(_POLL_SLICE, max(deadline.remaining(), 0.01)))


CardCallback = Callable[[str], None]


class CardWatcher:
    """Reports card taps on one reader from a thread of its own, for ever.

    ``on_card(uid)`` once per presence of a card (a card left on the reader is not reported
    again; a new tap after removal is); ``on_removed()`` when it leaves. When pcscd stops or the
    reader disappears the watcher marks the reader OFFLINE, reports a card it had reported as
    removed (it can no longer vouch for it), and keeps trying with a fresh context every
    ``retry_interval`` seconds until it is back. ``on_error`` hears of each loss once (not of
    every retry) and of each card that could not be read. Callbacks run on the watcher's thread:
    a Kivy app hands them on with ``Clock.schedule_once``.
    """

    def __init__(
        self,
        reader: PcscReader,
        on_card: CardCallback,
        on_removed: Callable[[], None] | None = None,
        *,
        on_error: Callable[[PcscError], None] | None = None,
        retry_interval: float = 0.5,
    ) -> None:
        self.reader = reader
        self.on_card = on_card
        self.on_removed = on_removed
        self.on_error = on_error
        self.retry_interval = retry_interval
        self.reconnects = 0  # contexts re-established after a loss (for the log and tests)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: int | None = None
        self._lost = False  # pcscd or the reader was lost and has not come back yet
        self._card_uid: str | None = None  # reported and not yet removed
        self._seen_event_count: int | None = None  # pcscd's insertion/removal counter at last look

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> CardWatcher:
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"pcsc-watch-{self.reader.device}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        ctx = self._ctx
        if ctx is not None:
            with contextlib.suppress(Exception):
                scard.SCardCancel(ctx)
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch()
            except PcscError as exc:
                self._seen_event_count = None  # counters of a restarted pcscd start again
                self.reader.status.set(DeviceStatus.OFFLINE, exc.message)
                self._report_removed()
                if not self._lost:  # once per loss, not at every retry
                    self._lost = True
                    log.warning("%s: %s; retrying every %.1f s", self.reader.device, exc, self.retry_interval)
                    self._report_error(exc)
            except Exception:  # a bug in a callback must not end the watching either
                log.exception("%s: card watcher failed; restarting it", self.reader.device)
            self._stop.wait(self.retry_interval)

    def _watch(self) -> None:
        device = self.reader.device
        with pcsc_context(device) as ctx:
            self._ctx = ctx
            try:
                name = find_reader(ctx, self.reader.name_pattern, device)
                self.reader.status.set(DeviceStatus.ONLINE, name)
                if self._lost:
                    self._lost = False
                    self.reconnects += 1
                log.info("%s: watching %s", device, name)
                state = scard.SCARD_STATE_UNAWARE
                while not self._stop.is_set():
                    hresult, states = scard.SCardGetStatusChange(ctx, 1000, [(name, state)])
                    code = _code(hresult)
                    if code == _TIMEOUT:
                        continue
                    if code == _CANCELLED and self._stop.is_set():
                        return
                    raise_for(hresult, "watching the reader", device)
                    event = int(states[0][1])
                    if event & _READER_LOST_STATES:
                        raise ReaderMissing(f"reader {name!r} is gone", device=device)
                    state = event & ~scard.SCARD_STATE_CHANGED
                    self._on_state(ctx, name, state)
            finally:
                self._ctx = None

    def _on_state(self, ctx: int, name: str, state: int) -> None:
        count = (state >> 16) & 0xFFFF  # pcsc-lite counts insertions and removals here
        present = bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
        if not present:
            self._seen_event_count = count
            self._report_removed()
            return
        if count == self._seen_event_count:
            return  # same presence as before (only INUSE or similar changed)
        if self._card_uid is not None:
            self._report_removed()  # removed and tapped again between two looks
        self._seen_event_count = count
        try:
            uid = read_card_uid(ctx, name, self.reader.device)
        except (CardError, PcscProtocolError) as exc:
            log.info("%s: card could not be read: %s", self.reader.device, exc)
            self._report_error(exc)
            return
        self._card_uid = uid
        log.info("%s: card %s", self.reader.device, mask_uid(uid))
        self.on_card(uid)

    def _report_removed(self) -> None:
        if self._card_uid is None:
            return
        self._card_uid = None
        if self.on_removed is not None:
            self.on_removed()

    def _report_error(self, exc: PcscError) -> None:
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("%s: on_error callback failed", self.reader.device)
