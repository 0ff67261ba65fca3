"""A contactless card on a virtual PC/SC reader: the second adapter behind the real pcscd.

It connects to vsmartcard's vpcd driver inside pcscd over TCP (127.0.0.1:35963 is reader
"Virtual PCD 00 00", 35964 is "Virtual PCD 00 01") and answers vpcd's frames exactly as a card
behind a PC/SC contactless reader would, so the driver runs its real pyscard code path against it.
Connecting is the card entering the field; closing the socket is the card leaving.

Two cards can be presented:
- ``kind="badge"``: a MIFARE Classic 1K staff badge (4- or 7-byte UID) with the PC/SC part 3 ATR.
- ``kind="idcard"``: a Chinese resident ID card (ISO 14443 type B). Assumed behaviour: the ATR is
  built by the type B rule from the card's real ATQB; ``00 36 00 00 08`` returns the 8-byte card
  serial; ``FF CA 00 00 00`` also returns that serial (as the readers used at the door do), unless
  ``pupi_only=True``, which models a reader that returns the card's all-zero PUPI instead.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from devices.errors import ProtocolError
from devices.pcsc.protocol import (
    GET_UID,
    IDCARD_GET_SERIAL,
    MIFARE_CLASSIC_1K_ATR,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    VpcdControl,
    VpcdFrameDecoder,
    build_response,
    decode_message,
    encode_frame,
    idcard_atr,
)
from devices.privacy import mask_uid
from devices.sim_actions import SimulatorActions

log = logging.getLogger(__name__)

VPCD_PORT = 35963  # slot 0 ("Virtual PCD 00 00"); slot 1 listens on VPCD_PORT + 1
KINDS = ("badge", "idcard")
_UID_LENGTHS = {"badge": (4, 7, 10), "idcard": (8,)}


class VirtualCardSimulator(SimulatorActions):
    """One virtual card slot: tap and remove cards on the vpcd reader listening at ``port``."""

    name = "pcsc"

    def __init__(self, port: int = VPCD_PORT, host: str = "127.0.0.1", *, name: str = "pcsc") -> None:
        self.name = name
        self.port = port
        self.host = host
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.uid = b""
        self.kind = ""
        self.pupi_only = False
        self.powered = False
        self.apdus: list[bytes] = []  # every command APDU pcscd sent, for tests of the wire
        self.atr_requests = 0
        self._drop_on_apdu = False

    # -- card in and out of the field ----------------------------------------------------------
    def ctl_tap(self, uid: str = "04A1B2C3", kind: str = "badge", pupi_only: bool = False) -> dict[str, Any]:
        """Bring a card into the field (connect to vpcd); kind is "badge" or "idcard"."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        try:
            raw = bytes.fromhex(uid)
        except ValueError:
            raise ValueError(f"uid must be hex, not {uid!r}") from None
        if len(raw) not in _UID_LENGTHS[kind]:
            raise ValueError(f"a {kind} UID has {_UID_LENGTHS[kind]} bytes, not {len(raw)}")
        self.ctl_remove()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=2)
        except OSError as exc:
            raise ValueError(f"no vpcd reader listening on {self.host}:{self.port}: {exc}") from None
        sock.settimeout(None)
        with self._lock:
            self.uid, self.kind, self.pupi_only = raw, kind, pupi_only
            self.powered = False
            self._sock = sock
            self._thread = threading.Thread(target=self._serve, args=(sock,), name="sim-pcsc", daemon=True)
            self._thread.start()
        log.info("virtual %s card %s in the field of port %d", kind, mask_uid(raw.hex()), self.port)
        return self.ctl_state()

    def ctl_remove(self) -> dict[str, Any]:
        """Take the card out of the field (close the connection to vpcd)."""
        with self._lock:
            sock, thread = self._sock, self._thread
            self._sock = self._thread = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        self.powered = False
        return self.ctl_state()

    def ctl_pull_during_read(self) -> dict[str, Any]:
        """Make the card leave the field at the next command APDU, before answering it."""
        self._drop_on_apdu = True
        return self.ctl_state()

    def ctl_state(self) -> dict[str, Any]:
        """Whether a card is in the field, which one, and what pcscd asked of it."""
        return {
            "port": self.port,
            "present": self.present,
            "uid": self.uid.hex().upper() if self.present else "",
            "kind": self.kind if self.present else "",
            "powered": self.powered,
            "apdus": len(self.apdus),
            "atr_requests": self.atr_requests,
        }

    def tap(self, uid: str = "04A1B2C3", seconds: float = 1.0, kind: str = "badge") -> None:
        """A badge tap: the card stays ``seconds`` in the field, then leaves (blocks meanwhile)."""
        self.ctl_tap(uid=uid, kind=kind)
        time.sleep(seconds)
        self.ctl_remove()

    @property
    def present(self) -> bool:
        return self._sock is not None

    def start(self) -> VirtualCardSimulator:
        """Nothing to serve until a card is tapped: vpcd inside pcscd is the listening side."""
        return self

    def stop(self) -> None:
        self.ctl_remove()

    def __enter__(self) -> VirtualCardSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the card side of vpcd's protocol -----------------------------------------------------
    @property
    def atr(self) -> bytes:
        return idcard_atr() if self.kind == "idcard" else MIFARE_CLASSIC_1K_ATR

    def answer(self, apdu: bytes) -> bytes:
        """The response APDU of this card to one command APDU."""
        if apdu[:4] == GET_UID[:4]:
            if self.kind == "idcard" and self.pupi_only:
                return build_response(bytes(4), SW_OK)
            return build_response(self.uid, SW_OK)
        if apdu[:4] == b"\xff\xca\x01\x00":  # ATS/historical bytes: not modelled
            return build_response(b"", SW_FUNCTION_NOT_SUPPORTED)
        if self.kind == "idcard" and apdu == IDCARD_GET_SERIAL:
            return build_response(self.uid, SW_OK)
        if apdu[0] == 0xFF:
            return build_response(b"", SW_FUNCTION_NOT_SUPPORTED)
        return build_response(b"", SW_INS_NOT_SUPPORTED)

    def _serve(self, sock: socket.socket) -> None:
        decoder = VpcdFrameDecoder()
        try:
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                for payload in decoder.feed(data):
                    reply = self._handle(payload)
                    if reply is None and self._sock is not sock:
                        return
                    if reply:
                        sock.sendall(encode_frame(reply))
        except OSError:
            pass  # removed by ctl_remove, or pcscd went away
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = self._thread = None
                    self.powered = False
            with contextlib.suppress(OSError):
                sock.close()
            log.info("virtual card left the field of port %d", self.port)

    def _handle(self, payload: bytes) -> bytes | None:
        """Answer one vpcd message; None means no answer is due (or the card just left)."""
        try:
            msg = decode_message(payload)
        except ProtocolError as exc:
            log.warning("virtual card ignores %s", exc)
            if len(payload) > 1:
                return build_response(b"", SW_INS_NOT_SUPPORTED)
            return None
        if msg is VpcdControl.ATR:
            self.atr_requests += 1
            return self.atr
        if isinstance(msg, VpcdControl):
            self.powered = msg is not VpcdControl.POWER_OFF
            return None
        self.apdus.append(msg)
        if self._drop_on_apdu:
            self._drop_on_apdu = False
            self.ctl_remove()
            return None
        return self.answer(msg)
