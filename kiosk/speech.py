"""Chime and spoken prompts: espeak-ng when it is installed, silence otherwise.

Everything runs in one daemon thread fed by a queue of size one: a resident who taps through
quickly hears the newest prompt, not a backlog, and the Kivy thread never waits for audio.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import queue
import shutil
import struct
import subprocess
import threading
import wave
from pathlib import Path

log = logging.getLogger(__name__)

CHIME = Path(__file__).resolve().parents[1] / "assets" / "sounds" / "chime.wav"
VOICES = {"zh": "cmn", "en": "en"}
PLAYERS = (("pw-play",), ("paplay",), ("aplay", "-q"))


def synthesise_chime(rate: int = 16000) -> bytes:
    """A soft two-note chime (E6 then C6, decaying) as 16-bit mono WAV bytes; small enough to ship."""
    frames = bytearray()
    length = int(rate * 0.6)
    for i in range(length):
        t = i / rate
        value = 0.0
        for freq, start in ((1318.5, 0.0), (1046.5, 0.18)):
            if t >= start:
                value += 0.35 * math.sin(2 * math.pi * freq * (t - start)) * math.exp(-6 * (t - start))
        frames += struct.pack("<h", int(max(-1.0, min(1.0, value)) * 32000))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


class Speaker:
    """Plays the chime and speaks texts in a worker thread; a no-op when disabled or nothing is installed."""

    def __init__(self, enabled: bool = True, espeak: str | None = None) -> None:
        self.espeak = espeak if espeak is not None else shutil.which("espeak-ng")
        self.player = next((p for p in PLAYERS if shutil.which(p[0])), None)
        self.enabled = enabled and bool(self.espeak or self.player)
        self._queue: queue.Queue[tuple[str, str, bool] | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self.spoken: list[str] = []  # what was said, for tests and the log

    def say(self, text: str, language: str = "zh", chime: bool = True) -> None:
        """Queue a prompt, replacing one not yet started; returns at once."""
        if not self.enabled or not text:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
            self._thread.start()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((text, language, chime))

    def close(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            text, language, chime = item
            self.spoken.append(text)
            if chime and self.player and CHIME.exists():
                self._quiet([*self.player, str(CHIME)])
            if self.espeak:
                self._quiet([self.espeak, "-v", VOICES.get(language, "cmn"), "-s", "150", text])

    @staticmethod
    def _quiet(cmd: list[str]) -> None:
        try:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("audio command %s failed: %s", cmd[0], exc)
