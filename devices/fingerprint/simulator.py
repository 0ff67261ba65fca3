"""A ZhianTec / Synochip fingerprint sensor at the far end of a pty, byte for byte.

It speaks the datasheet protocol so that this project's driver and unchanged open-source host
libraries (pyfingerprint, adafruit_fingerprint) work against it: fixed-length answers even on
errors (adafruit reads a fixed number of bytes), data packets cut at the configured packet size,
a password that must be verified first once it is not the default, silence towards other
addresses. Fingers are named identities (see ``fingers.py``); the panel and tests place and lift
them and inject bad images, flash faults and corrupted answers.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable
from typing import Any

from devices.fingerprint import fingers
from devices.fingerprint.errors import FingerprintChecksumError, FingerprintProtocolError
from devices.fingerprint.protocol import (
    BAUD_UNIT,
    DEFAULT_ADDRESS,
    IMAGE_SIZE,
    PACKET_SIZES,
    STATUS_IMAGE_VALID,
    STATUS_PASS,
    STATUS_PASSWORD_VERIFIED,
    TEMPLATE_SIZE,
    Confirmation,
    DataAssembler,
    Instruction,
    Packet,
    PacketReader,
    PacketType,
    SysParam,
    SystemParameters,
    encode_ack,
    encode_data,
    encode_index_table,
)
from devices.pty_sim import PtySimulator

log = logging.getLogger(__name__)

SYSTEM_ID = 0x0009  # what ZFM-20 class modules report
MODULE_OK_BYTE = b"\x55"  # sent alone after a soft reset

# Answer data lengths that hosts read as a fixed number of bytes, kept even on errors.
_FIXED_DATA = {
    Instruction.MATCH: 2,
    Instruction.SEARCH: 4,
    Instruction.HIGH_SPEED_SEARCH: 4,
    Instruction.TEMPLATE_NUM: 2,
    Instruction.READ_SYS_PARA: 16,
    Instruction.READ_INDEX_TABLE: 32,
    Instruction.GET_RANDOM: 4,
}

BAD_IMAGE_KINDS = {
    "messy": Confirmation.IMAGE_MESSY,  # next Img2Tz
    "few_features": Confirmation.FEW_FEATURES,  # next Img2Tz
    "invalid": Confirmation.INVALID_IMAGE,  # next Img2Tz
    "failed": Confirmation.IMAGE_FAILED,  # next GenImg with a finger on
}


class _Reply(Exception):
    """Ends a command handler early with a confirmation code (keeps handlers flat)."""

    def __init__(self, code: Confirmation, data: bytes | None = None) -> None:
        super().__init__(code.name)
        self.code = code
        self.data = data  # None: zeros of the answer's fixed length


class FingerprintSimulator(PtySimulator):
    name = "fingerprint"

    def __init__(
        self,
        *,
        baudrate: int = 57600,
        pacing: bool = True,
        link: str | None = None,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        capacity: int = 300,
        security_level: int = 3,
        packet_size: int = 128,
    ) -> None:
        super().__init__(baudrate=baudrate, pacing=pacing, link=link)
        self.address = address
        self.password = password
        self.capacity = capacity
        self.security_level = security_level
        self.packet_size_code = PACKET_SIZES.index(packet_size)
        self.store: dict[int, bytes] = {}
        self.finger: str | None = None
        self.flash_fault = False
        self.corrupt_replies = 0
        self._bad_images: list[str] = []
        self._captures = 0
        self._pending_baud = 0
        self.empty_polls = 0  # GenImg answered "no finger": lets a scripted person react to polling
        self._lock = threading.Lock()  # ctl_* run on other threads than the pty server
        self._power_on()
        self._handlers: dict[Instruction, Callable[[bytes], bytes]] = {
            Instruction.GEN_IMG: self._gen_img,
            Instruction.IMG2TZ: self._img2tz,
            Instruction.MATCH: self._match,
            Instruction.SEARCH: self._search,
            Instruction.HIGH_SPEED_SEARCH: self._search,
            Instruction.REG_MODEL: self._reg_model,
            Instruction.STORE: self._store,
            Instruction.LOAD_CHAR: self._load_char,
            Instruction.UP_CHAR: self._up_char,
            Instruction.DOWN_CHAR: self._down_char,
            Instruction.UP_IMAGE: self._up_image,
            Instruction.DELETE: self._delete,
            Instruction.EMPTY: self._empty,
            Instruction.SET_SYS_PARA: self._set_sys_para,
            Instruction.READ_SYS_PARA: self._read_sys_para,
            Instruction.SET_PWD: self._set_pwd,
            Instruction.VFY_PWD: self._vfy_pwd,
            Instruction.GET_RANDOM: lambda _p: os.urandom(4),
            Instruction.SET_ADDR: self._set_addr,
            Instruction.HANDSHAKE: lambda _p: b"",
            Instruction.TEMPLATE_NUM: lambda _p: struct.pack(">H", len(self.store)),
            Instruction.READ_INDEX_TABLE: self._read_index_table,
            Instruction.AURA_LED: lambda _p: b"",
        }

    def _power_on(self) -> None:
        """Volatile state after power-up: flash (store, password, parameters) survives, RAM does not."""
        self.verified = False
        self.buffers: dict[int, bytes | None] = {1: None, 2: None}
        self.image: tuple[str, int] | None = None
        self.last_pass = False
        self._reader = PacketReader()
        self._receiving: tuple[int, DataAssembler] | None = None

    # -- wire ------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        out: list[bytes] = []
        with self._lock:
            for item in self._reader.feed(data):
                if isinstance(item, FingerprintProtocolError):
                    log.info("fingerprint sim: bad packet from host: %s", item)
                    if isinstance(item, FingerprintChecksumError):
                        self._receiving = None
                        out.append(self._ack(Confirmation.PACKET_ERROR))
                    continue
                if item.address != self.address:
                    continue  # the sensor only answers its own address
                reply = self._on_packet(item)
                if reply:
                    out.append(reply)
        for reply in out:
            self.send(reply)
        if self._pending_baud:
            self.baudrate, self._pending_baud = self._pending_baud, 0

    def _ack(self, code: Confirmation, data: bytes = b"") -> bytes:
        frame = bytearray(encode_ack(code, data, self.address))
        if self.corrupt_replies > 0:
            self.corrupt_replies -= 1
            frame[-1] ^= 0xFF
        return bytes(frame)

    def _on_packet(self, packet: Packet) -> bytes:
        if packet.pid in (PacketType.DATA, PacketType.END_DATA):
            self._on_data(packet)
            return b""
        if packet.pid is not PacketType.COMMAND or not packet.payload:
            return b""
        self._receiving = None  # a command ends any half-received data transfer
        try:
            instruction = Instruction(packet.payload[0])
        except ValueError:
            return self._ack(Confirmation.PACKET_ERROR)
        params = packet.payload[1:]
        pad = bytes(_FIXED_DATA.get(instruction, 0))
        # A module with a non-default password refuses everything until VfyPwd (datasheet 4.5).
        if self.password != 0 and not self.verified and instruction is not Instruction.VFY_PWD:
            return self._ack(Confirmation.PASSWORD_NEEDED, pad)
        if instruction is Instruction.SOFT_RESET:
            reply = self._ack(Confirmation.OK)
            self._power_on()
            return reply + MODULE_OK_BYTE
        if instruction is Instruction.GET_ECHO:
            return self._ack(Confirmation.MODULE_OK)
        handler = self._handlers.get(instruction)
        if handler is None:
            return self._ack(Confirmation.PACKET_ERROR, pad)
        try:
            data = handler(params)
        except _Reply as reply:
            return self._ack(reply.code, pad if reply.data is None else reply.data)
        except (struct.error, IndexError, ValueError):
            return self._ack(Confirmation.PACKET_ERROR, pad)
        if instruction is Instruction.UP_CHAR or instruction is Instruction.UP_IMAGE:
            return self._ack(Confirmation.OK) + data  # data packets follow the ack
        return self._ack(Confirmation.OK, data)

    def _on_data(self, packet: Packet) -> None:
        if self._receiving is None:
            return
        buffer, assembler = self._receiving
        try:
            done = assembler.add(packet)
        except FingerprintProtocolError:
            self._receiving = None
            return
        if done:
            self.buffers[buffer] = assembler.data()
            self._receiving = None

    @property
    def packet_size(self) -> int:
        return PACKET_SIZES[self.packet_size_code]

    def _buffer(self, params: bytes) -> int:
        if not params or params[0] not in (1, 2):
            raise _Reply(Confirmation.PACKET_ERROR)
        return params[0]

    def _page(self, page: int) -> int:
        if page >= self.capacity:
            raise _Reply(Confirmation.BAD_PAGE)
        return page

    # -- commands -------------------------------------------------------------------------
    def _gen_img(self, _params: bytes) -> bytes:
        if self.finger is None:
            self.image = None
            self.empty_polls += 1
            raise _Reply(Confirmation.NO_FINGER)
        if self._bad_images and self._bad_images[0] == "failed":
            self._bad_images.pop(0)
            self.image = None
            raise _Reply(Confirmation.IMAGE_FAILED)
        self._captures += 1
        self.image = (self.finger, self._captures)
        return b""

    def _img2tz(self, params: bytes) -> bytes:
        buffer = self._buffer(params)
        if self._bad_images and self._bad_images[0] != "failed":
            raise _Reply(BAD_IMAGE_KINDS[self._bad_images.pop(0)])
        if self.image is None:
            raise _Reply(Confirmation.INVALID_IMAGE)
        self.buffers[buffer] = fingers.capture_template(*self.image)
        return b""

    def _threshold(self) -> int:
        return fingers.threshold(self.security_level)

    def _match(self, _params: bytes) -> bytes:
        score = fingers.match_score(self.buffers[1] or b"", self.buffers[2] or b"")
        self.last_pass = score >= self._threshold()
        if not self.last_pass:
            raise _Reply(Confirmation.NO_MATCH, struct.pack(">H", score))
        return struct.pack(">H", score)

    def _search(self, params: bytes) -> bytes:
        buffer = self._buffer(params)
        start, count = struct.unpack(">HH", params[1:5])
        if start >= self.capacity:
            raise _Reply(Confirmation.BAD_PAGE)
        probe = self.buffers[buffer] or b""
        best: tuple[int, int] | None = None
        for page in sorted(self.store):
            if start <= page < start + count:
                score = fingers.match_score(probe, self.store[page])
                if score >= self._threshold() and (best is None or score > best[1]):
                    best = (page, score)
        self.last_pass = best is not None
        if best is None:
            raise _Reply(Confirmation.NOT_FOUND)
        return struct.pack(">HH", *best)

    def _reg_model(self, _params: bytes) -> bytes:
        one, two = self.buffers[1], self.buffers[2]
        if one is None or two is None or fingers.match_score(one, two) < self._threshold():
            raise _Reply(Confirmation.ENROLL_MISMATCH)
        self.buffers[1] = self.buffers[2] = one
        return b""

    def _store(self, params: bytes) -> bytes:
        buffer = self._buffer(params)
        page = self._page(struct.unpack(">H", params[1:3])[0])
        if self.flash_fault:
            raise _Reply(Confirmation.FLASH_ERROR)
        template = self.buffers[buffer]
        if template is None:
            raise _Reply(Confirmation.PACKET_ERROR)
        self.store[page] = template
        return b""

    def _load_char(self, params: bytes) -> bytes:
        buffer = self._buffer(params)
        page = self._page(struct.unpack(">H", params[1:3])[0])
        if page not in self.store:
            raise _Reply(Confirmation.READ_ERROR)
        self.buffers[buffer] = self.store[page]
        return b""

    def _up_char(self, params: bytes) -> bytes:
        template = self.buffers[self._buffer(params)]
        if template is None:
            raise _Reply(Confirmation.UPLOAD_FAILED)
        return encode_data(template, self.packet_size, self.address)

    def _down_char(self, params: bytes) -> bytes:
        self._receiving = (self._buffer(params), DataAssembler(limit=TEMPLATE_SIZE))
        return b""

    def _up_image(self, _params: bytes) -> bytes:
        if self.image is None:
            raise _Reply(Confirmation.IMAGE_UPLOAD_FAILED)
        pattern = fingers.finger_pattern(self.image[0])
        image = (pattern * (IMAGE_SIZE // len(pattern) + 1))[:IMAGE_SIZE]
        return encode_data(image, self.packet_size, self.address)

    def _delete(self, params: bytes) -> bytes:
        page, count = struct.unpack(">HH", params[:4])
        if page + count > self.capacity:
            raise _Reply(Confirmation.BAD_PAGE)
        if self.flash_fault:
            raise _Reply(Confirmation.DELETE_FAILED)
        for p in range(page, page + count):
            self.store.pop(p, None)
        return b""

    def _empty(self, _params: bytes) -> bytes:
        if self.flash_fault:
            raise _Reply(Confirmation.CLEAR_FAILED)
        self.store.clear()
        return b""

    def _set_sys_para(self, params: bytes) -> bytes:
        param, value = params[0], params[1]
        if param == SysParam.BAUD and 1 <= value <= 12:
            # The UART switches after this answer; on a pty only the pacing changes.
            self._pending_baud = value * BAUD_UNIT
        elif param == SysParam.SECURITY and 1 <= value <= 5:
            self.security_level = value
        elif param == SysParam.PACKET_SIZE and 0 <= value <= 3:
            self.packet_size_code = value
        else:
            raise _Reply(Confirmation.INVALID_REGISTER)
        return b""

    def system_parameters(self) -> SystemParameters:
        status = 0
        if self.verified:
            status |= STATUS_PASSWORD_VERIFIED
        if self.image is not None:
            status |= STATUS_IMAGE_VALID
        if self.last_pass:
            status |= STATUS_PASS
        return SystemParameters(
            status_register=status,
            system_id=SYSTEM_ID,
            capacity=self.capacity,
            security_level=self.security_level,
            address=self.address,
            packet_size_code=self.packet_size_code,
            baud_multiplier=self.baudrate // BAUD_UNIT,
        )

    def _read_sys_para(self, _params: bytes) -> bytes:
        return self.system_parameters().encode()

    def _set_pwd(self, params: bytes) -> bytes:
        self.password = struct.unpack(">I", params[:4])[0]
        self.verified = True
        return b""

    def _vfy_pwd(self, params: bytes) -> bytes:
        if struct.unpack(">I", params[:4])[0] != self.password:
            self.verified = False
            raise _Reply(Confirmation.WRONG_PASSWORD)
        self.verified = True
        return b""

    def _set_addr(self, params: bytes) -> bytes:
        # The answer goes out from the new address (uncertain on real modules; see report).
        self.address = struct.unpack(">I", params[:4])[0]
        return b""

    def _read_index_table(self, params: bytes) -> bytes:
        index_page = params[0]
        if index_page > 3:
            raise _Reply(Confirmation.BAD_PAGE)
        return encode_index_table(set(self.store), index_page)

    # -- actions (simulator panel, ``kiosk sim``, tests) -------------------------------------
    def ctl_place(self, finger: str = "alice-right-index") -> dict[str, Any]:
        """Put the named finger on the sensor (each name is one identity)."""
        with self._lock:
            self.finger = finger
        return {"finger": finger}

    def ctl_lift(self) -> dict[str, Any]:
        """Take the finger off the sensor."""
        with self._lock:
            self.finger = None
        return {"finger": None}

    def ctl_bad_image(self, kind: str = "messy", count: int = 1) -> dict[str, Any]:
        """Spoil the next capture(s): messy / few_features / invalid (Img2Tz) or failed (GenImg)."""
        if kind not in BAD_IMAGE_KINDS:
            raise ValueError(f"kind must be one of {sorted(BAD_IMAGE_KINDS)}")
        with self._lock:
            self._bad_images.extend([kind] * count)
            return {"bad_images": list(self._bad_images)}

    def ctl_flash_fault(self, on: bool = True) -> dict[str, Any]:
        """Make Store/Delete/Empty fail as with worn-out flash (18/10/11) until turned off."""
        with self._lock:
            self.flash_fault = on
        return {"flash_fault": on}

    def ctl_corrupt(self, count: int = 1) -> dict[str, Any]:
        """Send the next ``count`` answers with a broken checksum (noise on the wire)."""
        with self._lock:
            self.corrupt_replies = count
        return {"corrupt_replies": count}

    def ctl_store(self, finger: str = "alice-right-index", page: int = 0) -> dict[str, Any]:
        """Put an enrolled template of the named finger into a page (seeding the library)."""
        if not 0 <= page < self.capacity:
            raise ValueError(f"page must be 0..{self.capacity - 1}")
        with self._lock:
            self._captures += 1
            self.store[page] = fingers.capture_template(finger, self._captures)
        return {"page": page, "finger": finger}

    def ctl_plug(self) -> dict[str, Any]:
        """Plug back in after ``unplug``: the sensor powers up again (password to verify anew)."""
        with self._lock:
            self._power_on()
        return super().ctl_plug()

    def ctl_state(self) -> dict[str, Any]:
        """Finger on the sensor, stored pages, buffers, parameters and injected faults."""
        with self._lock:
            state = super().ctl_state()
            state.update(
                finger=self.finger,
                pages=sorted(self.store),
                template_count=len(self.store),
                capacity=self.capacity,
                buffers={str(k): v is not None for k, v in self.buffers.items()},
                packet_size=self.packet_size,
                security_level=self.security_level,
                baudrate=self.baudrate,
                address=f"{self.address:08X}",
                password_set=self.password != 0,
                verified=self.verified,
                bad_images=list(self._bad_images),
                flash_fault=self.flash_fault,
            )
            return state

    def ctl_clear(self) -> dict[str, Any]:
        """Empty the library, lift the finger, forget injected faults."""
        with self._lock:
            self.store.clear()
            self.finger = None
            self.flash_fault = False
            self.corrupt_replies = 0
            self._bad_images.clear()
            self.buffers = {1: None, 2: None}
            self.image = None
        return {"cleared": True}
