"""Chime and spoken prompts: espeak-ng when it is installed, silence otherwise.

Everything runs in one daemon thread fed by a queue of size one: a resident who taps through
quickly hears the newest prompt, not a backlog, and the Kivy thread never waits for audio.

The volume comes from the configuration (``[ui] volume``) and staff change it in maintenance
mode; during the quiet hours (``[ui] quiet_hours``, e.g. "22:00-07:00": villagers' neighbours
sleep) prompts are no louder than ``quiet_volume``. A "loud" prompt (the ID card left on the
reader) uses the full configured volume even then. ``engine_texts`` records every text handed to
espeak-ng, so a test can prove what was (and was not) spoken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import math
import queue
import shutil
import struct
import subprocess
import threading
import wave
from collections.abc import Callable
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


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time] | None:
    """ "22:00-07:00" → (22:00, 07:00); "" → None; anything else raises ValueError."""
    text = text.strip()
    if not text:
        return None
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise ValueError(f"quiet hours {text!r}: use HH:MM-HH:MM") from exc
    return start, end


def in_quiet_hours(hours: tuple[dt.time, dt.time] | None, now: dt.time) -> bool:
    if hours is None:
        return False
    start, end = hours
    return start <= now < end if start <= end else (now >= start or now < end)


class Speaker:
    """Plays the chime and speaks texts in a worker thread; a no-op when disabled or nothing is installed."""

    def __init__(
        self,
        enabled: bool = True,
        espeak: str | None = None,
        *,
        volume: int = 80,
        quiet_hours: str = "",
        quiet_volume: int = 40,
        now: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.espeak = espeak if espeak is not None else shutil.which("espeak-ng")
        self.player = next((p for p in PLAYERS if shutil.which(p[0])), None)
        self.enabled = enabled and bool(self.espeak or self.player)
        self.volume = max(0, min(100, int(volume)))
        self.quiet_hours = parse_quiet_hours(quiet_hours)
        self.quiet_volume = max(0, min(100, int(quiet_volume)))
        self.now = now
        self._queue: queue.Queue[tuple[str, str, bool, bool] | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self.spoken: list[str] = []  # what was said, for tests and the log
        self.engine_texts: list[str] = []  # every text handed to espeak-ng (spoken or rendered)

    def set_volume(self, volume: int) -> int:
        """Staff's setting from maintenance mode (0–100); returns what is in force."""
        self.volume = max(0, min(100, int(volume)))
        log.info("speech volume set to %d", self.volume)
        return self.volume

    def volume_now(self, loud: bool = False) -> int:
        """The volume for a prompt now: the quiet hours cap it unless the prompt is loud."""
        if not loud and in_quiet_hours(self.quiet_hours, self.now().time()):
            return min(self.volume, self.quiet_volume)
        return self.volume

    def say(self, text: str, language: str = "zh", chime: bool = True, *, loud: bool = False) -> None:
        """Queue a prompt, replacing one not yet started; returns at once."""
        if not self.enabled or not text or self.volume_now(loud) == 0:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
            self._thread.start()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((text, language, chime, loud))

    def command(self, text: str, language: str, loud: bool = False) -> list[str]:
        """The espeak-ng command line for a prompt (amplitude 0–200 from the volume 0–100)."""
        amplitude = str(round(self.volume_now(loud) * 2))
        return [str(self.espeak), "-v", VOICES.get(language, "cmn"), "-s", "150", "-a", amplitude, text]

    def render(self, text: str, language: str, path: Path, *, loud: bool = False) -> Path:
        """Speak into a WAV file instead of the loudspeaker (tests, and checking a kiosk's voice)."""
        if not self.espeak:
            raise RuntimeError("espeak-ng is not installed")
        self.engine_texts.append(text)
        cmd = self.command(text, language, loud)
        subprocess.run([*cmd[:-1], "-w", str(path), cmd[-1]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=30, check=True)
        return path

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
            text, language, chime, loud = item
            self.spoken.append(text)
            if chime and self.player and CHIME.exists():
                self._quiet([*self.player, str(CHIME)])
            if self.espeak:
                self.engine_texts.append(text)
                self._quiet(self.command(text, language, loud))

    @staticmethod
    def _quiet(cmd: list[str]) -> None:
        try:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("audio command %s failed: %s", cmd[0], exc)
