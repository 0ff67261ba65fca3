"""PC/SC contactless readers (staff badges, door reader) through pcscd, and their virtual card."""

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
from devices.pcsc.protocol import CardKind, classify_atr
from devices.pcsc.reader import CardWatcher, PcscReader
from devices.pcsc.virtual_card import VPCD_PORT, VirtualCardSimulator

__all__ = [
    "VPCD_PORT",
    "CardError",
    "CardKind",
    "CardRemoved",
    "CardUnsupported",
    "CardWatcher",
    "NoCard",
    "PcscError",
    "PcscProtocolError",
    "PcscReader",
    "PcscUnavailable",
    "ReaderMissing",
    "VirtualCardSimulator",
    "classify_atr",
]
