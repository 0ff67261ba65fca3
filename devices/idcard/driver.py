"""Driver of the SAM-module ID card reader over a serial port (or the simulator's pty).

One request, one answer, under the link's lock. A bad check byte (ours or the reader's SW3 10
about our frame) is retried once; SW3 faults of the module are never retried, they become typed
errors and the status the app watches. After a successful read the same card is not read again
until the reader has reported the field empty once, even on modules that keep finding it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceCancelled, DeviceOffline, DeviceTimeout, Recovery
from devices.idcard.errors import (
    IdCardChecksumError,
    IdCardError,
    IdCardHardwareError,
    IdCardLengthError,
    IdCardNoCard,
    IdCardProtocolError,
    IdCardReadFailed,
    IdCardWaitTimeout,
)
from devices.idcard.protocol import (
    Command,
    FrameReader,
    Request,
    Response,
    SamId,
    Sw3,
    parse_card_data,
    parse_find,
    parse_newest_address,
    parse_response,
    parse_sam_id,
    parse_select,
    request,
    set_baud_request,
)
from devices.idcard.records import IdentityRecord, decode_text
from devices.idcard.wlt import NoWltDecoder, WltDecoder
from devices.serial_link import SerialLink
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

MIN_POLL_INTERVAL = 0.3  # PROTOCOLS.md: poll for a card no faster than about every 300 ms

_NO_CARD = {Sw3.FIELD_EMPTY, Sw3.FIND_FAILED, Sw3.SELECT_FAILED}
_READ_FAILED = {
    Sw3.READ_FAILED,
    Sw3.RANDOM_NUMBER_FAILED,
    Sw3.CARD_CANNOT_AUTH_SAM,
    Sw3.SAM_CANNOT_AUTH_CARD,
    Sw3.VERIFICATION_ERROR,
    Sw3.UNKNOWN_CARD_TYPE,
}
_HARDWARE = {Sw3.UNAUTHORISED, Sw3.UNKNOWN_ERROR, Sw3.SAM_SELF_TEST_FAILED, Sw3.SAM_NOT_AUTHORISED}


def error_for_sw3(sw3: Sw3, command: Command) -> IdCardError:
    """The typed error for a failure SW3 in the answer to ``command``."""
    what = f"{command.name.lower()}: {sw3.meaning} (SW3 {sw3:02X})"
    if sw3 in _NO_CARD:
        return IdCardNoCard(what, sw3=sw3)
    if sw3 is Sw3.UNKNOWN_CARD_TYPE:
        return IdCardReadFailed(what, sw3=sw3, code="idcard.unknown_card_type")
    if sw3 in _READ_FAILED:
        return IdCardReadFailed(what, sw3=sw3)
    if sw3 is Sw3.CHECKSUM_ERROR:
        return IdCardChecksumError(what, sw3=sw3, code="idcard.checksum_rejected")
    if sw3 is Sw3.LENGTH_ERROR:
        return IdCardLengthError(what, sw3=sw3, code="idcard.length_rejected")
    if sw3 is Sw3.UNKNOWN_ERROR:
        return IdCardHardwareError(what, sw3=sw3, recovery=Recovery.RESET)
    if sw3 in _HARDWARE:
        return IdCardHardwareError(what, sw3=sw3)
    return IdCardProtocolError(what, sw3=sw3, code="idcard.bad_command")


@dataclass(frozen=True, repr=False)
class CardRead:
    """One card as read: the record, the photo (raw and decoded, or why not), the fingerprints."""

    record: IdentityRecord
    photo_wlt: bytes
    photo: np.ndarray | None  # 126 × 102 BGR, top row first
    photo_error: IdCardError | None  # why ``photo`` is None (decoder missing, decode failed)
    fingerprint: bytes | None  # 1024 bytes when read with fingerprints and the card has them
    serial: bytes = b""

    @property
    def photo_reason(self) -> str | None:
        return None if self.photo_error is None else self.photo_error.message

    def __repr__(self) -> str:
        photo = "photo" if self.photo is not None else f"no photo ({self.photo_error and self.photo_error.code})"
        fp = f", fingerprint {len(self.fingerprint)} bytes" if self.fingerprint else ""
        return f"CardRead({self.record!r}, {photo}{fp})"


class IdCardReader:
    """A SAM-module ID card reader on one serial port."""

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        *,
        timeout: float = 3.0,
        find_timeout: float = 1.0,
        wlt_decoder: WltDecoder | None = None,
        poll_interval: float = MIN_POLL_INTERVAL,
        name: str = "idcard",
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.find_timeout = find_timeout
        self.wlt_decoder: WltDecoder = wlt_decoder or NoWltDecoder()
        self.poll_interval = max(poll_interval, MIN_POLL_INTERVAL)
        self.name = name
        self.status = StatusTracker(name)
        self._link = SerialLink(port, baudrate, device=name)
        # True from a successful read until the reader reports no card once (see module doc)
        self._awaiting_removal = False
        self._last_serial = b""

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._link.is_open

    def open(self) -> None:
        try:
            self._link.open()
        except DeviceOffline as exc:
            self.status.set(DeviceStatus.OFFLINE, exc.message)
            raise
        self.status.set(DeviceStatus.ONLINE, f"{self.port} open")

    def close(self) -> None:
        self._link.close()
        self.status.set(DeviceStatus.OFFLINE, "closed")

    def __enter__(self) -> IdCardReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe(self, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """Talks to the SAM module: its status and number, e.g. ``SAM 05.01-20200101-...``."""
        self.sam_status(timeout, cancel)
        return f"SAM {self.sam_id(timeout, cancel)}"

    # -- one exchange ---------------------------------------------------------------------------
    def _read_frame(self, deadline: Deadline, cancel: CancelToken | None) -> bytes:
        reader = FrameReader()
        while True:
            body = reader.next_frame()
            if body is not None:
                return body
            reader.feed(self._link.read_exact(reader.wanted(), deadline, cancel))

    def _exchange(self, req: Request, timeout: float | None, cancel: CancelToken | None) -> Response:
        """Send one request and return its answer, checked; SW3 failures are raised as errors."""
        seconds = self.timeout if timeout is None else timeout
        what = f"{self.name} {req.command.name.lower()}"
        with self._link.lock:
            self.status.set(DeviceStatus.BUSY, req.command.name.lower())
            try:
                resp = self._exchange_with_retry(req, seconds, what, cancel)
            except DeviceOffline as exc:
                self.status.set(DeviceStatus.OFFLINE, exc.message)
                raise
            except DeviceCancelled:
                self.status.set(DeviceStatus.ONLINE, "cancelled")
                raise
            except DeviceTimeout as exc:
                self.status.set(DeviceStatus.OFFLINE, f"not answering: {exc.message}")
                raise
            except IdCardError as exc:
                self.status.set(DeviceStatus.ONLINE, exc.code)
                raise
            if resp.sw3.ok:
                self.status.set(DeviceStatus.ONLINE)
                return resp
            err = error_for_sw3(resp.sw3, req.command)
            if isinstance(err, IdCardHardwareError):
                self.status.set(DeviceStatus.HARDWARE_ERROR, err.message)
            else:
                self.status.set(DeviceStatus.ONLINE, err.code)
            raise err

    def _exchange_with_retry(self, req: Request, seconds: float, what: str, cancel: CancelToken | None) -> Response:
        frame = req.encode()
        for attempt in (1, 2):
            self._link.discard_input()
            self._link.write(frame)
            try:
                resp = parse_response(self._read_frame(Deadline(seconds, what, self.name), cancel))
                if resp.sw3 is Sw3.CHECKSUM_ERROR:
                    raise error_for_sw3(resp.sw3, req.command)
                return resp
            except IdCardChecksumError as exc:
                if attempt == 2:
                    raise
                log.warning("%s: %s; retrying once", what, exc.message)
        raise AssertionError("unreachable")

    # -- SAM ----------------------------------------------------------------------------------
    def sam_status(self, timeout: float | None = None, cancel: CancelToken | None = None) -> Sw3:
        """Sw3.OK when the module's self-check passes; a fault raises IdCardHardwareError."""
        return self._exchange(request(Command.SAM_STATUS), timeout, cancel).sw3

    def sam_id(self, timeout: float | None = None, cancel: CancelToken | None = None) -> SamId:
        return parse_sam_id(self._exchange(request(Command.SAM_ID), timeout, cancel))

    def reset_sam(self, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        self._exchange(request(Command.SAM_RESET), timeout, cancel)
        self._awaiting_removal = False

    def set_baudrate(self, baudrate: int, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Switch the module (command 60 xx) and then this port to ``baudrate``."""
        self._exchange(set_baud_request(baudrate), timeout, cancel)
        with self._link.lock:
            self._link.close()
            self.baudrate = baudrate
            self._link = SerialLink(self.port, baudrate, device=self.name)
            self.open()

    # -- card ---------------------------------------------------------------------------------
    def find_card(self, timeout: float | None = None, cancel: CancelToken | None = None) -> bool:
        """True when a card that has not been read yet lies on the reader."""
        return self._module_finds(timeout, cancel) and not self._awaiting_removal

    def _module_finds(self, timeout: float | None, cancel: CancelToken | None) -> bool:
        try:
            resp = self._exchange(request(Command.FIND), self.find_timeout if timeout is None else timeout, cancel)
        except IdCardNoCard:
            self._awaiting_removal = False
            return False
        parse_find(resp)
        return True

    def _find_new_card(self, cancel: CancelToken | None) -> bytes | None:
        """Find and select a card not read yet; its serial, or None.

        A module that keeps finding the card just read is caught here: the same serial is skipped
        until the field was seen empty; a different serial is a new card and is read at once.
        """
        if not self._module_finds(None, cancel):
            return None
        try:
            serial = self.select_card(None, cancel)
        except IdCardNoCard:
            return None
        if self._awaiting_removal and serial == self._last_serial:
            log.debug("%s: the card just read is still on the reader; not reading it again", self.name)
            return None
        return serial

    def select_card(self, timeout: float | None = None, cancel: CancelToken | None = None) -> bytes:
        """Select the found card; returns its 8-byte serial."""
        seconds = self.find_timeout if timeout is None else timeout
        return parse_select(self._exchange(request(Command.SELECT), seconds, cancel))

    def read_selected_card(
        self,
        with_fingerprint: bool = False,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        *,
        serial: bytes = b"",
    ) -> CardRead:
        """The bare read command (30 01, or 30 10 with fingerprints) on an already selected card."""
        command = Command.READ_TEXT_PHOTO_FINGERPRINT if with_fingerprint else Command.READ_TEXT_PHOTO
        data = parse_card_data(self._exchange(request(command), timeout, cancel), with_fingerprint=with_fingerprint)
        # A card refused for its content (IdCardInvalid) must not be read again and again while it lies
        # there: it counts as read until it is taken off.
        self._awaiting_removal, self._last_serial = True, serial
        record = decode_text(data.text)
        photo, photo_error = None, None
        try:
            photo = self.wlt_decoder.decode(data.photo)
        except IdCardError as exc:
            photo_error = exc
            log.warning("%s: card photo not decoded: %s", self.name, exc.message)
        log.info("%s: read %s", self.name, record)
        return CardRead(record, data.photo, photo, photo_error, data.fingerprint, serial)

    def read_card(
        self, with_fingerprint: bool = False, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> CardRead:
        """Find, select and read the card on the reader; IdCardNoCard when there is no new card."""
        serial = self._find_new_card(cancel)
        if serial is None:
            raise IdCardNoCard("no new card on the reader", sw3=Sw3.FIND_FAILED)
        return self.read_selected_card(with_fingerprint, timeout, cancel, serial=serial)

    def read_newest_address(self, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """The 最新住址 page (30 03) of the card on the reader; empty when the card has none."""
        return parse_newest_address(self._exchange(request(Command.READ_NEWEST_ADDRESS), timeout, cancel))

    def wait_for_card(
        self, timeout: float | None = None, cancel: CancelToken | None = None, *, with_fingerprint: bool = False
    ) -> CardRead:
        """Poll (every ``poll_interval`` ≥ 300 ms) until a new card is placed, then read it.

        ``timeout`` None waits until cancelled. A card lifted between find and select is waited
        for again; other errors (read failed, device faults) reach the caller.
        """
        deadline = Deadline(timeout, f"{self.name} wait for card", self.name) if timeout is not None else None
        while True:
            started = time.monotonic()
            if cancel is not None and cancel.cancelled:
                raise DeviceCancelled("waiting for a card cancelled", device=self.name)
            if deadline is not None and deadline.expired:
                raise IdCardWaitTimeout(f"no card placed within {timeout:.1f} s", sw3=None)
            serial = self._find_new_card(cancel)
            if serial is not None:
                return self.read_selected_card(with_fingerprint, None, cancel, serial=serial)
            pause = started + self.poll_interval - time.monotonic()
            if deadline is not None:
                pause = min(pause, deadline.remaining())
            if pause > 0:
                if cancel is not None:
                    if cancel.wait(pause):
                        raise DeviceCancelled("waiting for a card cancelled", device=self.name)
                else:
                    time.sleep(pause)


__all__ = ["MIN_POLL_INTERVAL", "CardRead", "IdCardReader", "error_for_sw3"]
