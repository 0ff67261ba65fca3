"""The app's window-free parts: translations, idle watcher, device watch, speech queue, chime."""

from __future__ import annotations

import io
import os
import wave

os.environ.setdefault("KIVY_NO_ARGS", "1")

from devices.status import DeviceStatus, StatusTracker  # noqa: E402
from flows.view import Screen  # noqa: E402
from kiosk.app import DeviceWatch, InactivityWatcher, demo_views, ui_settings  # noqa: E402
from kiosk.i18n import Translator  # noqa: E402
from kiosk.speech import Speaker, synthesise_chime  # noqa: E402


def test_both_languages_have_the_same_keys_and_every_demo_message() -> None:
    tr = Translator()
    assert set(tr.tables["zh"]) == set(tr.tables["en"])
    for view in demo_views().values():
        assert tr.has(view.message), view.message
        for action in view.actions:
            # the five 好差评 levels are labelled by the rating screen from [rating] (GB/T 39734 words)
            assert tr.has(f"action.{action}") or tr.has(f"rating.{action}") or action in ("select", "reason"), action


def test_translation_formats_and_falls_back() -> None:
    tr = Translator("zh")
    assert tr("door.put_papers", compartment="A07").startswith("A07号柜门")
    tr.language = "en"
    assert tr("door.put_papers", compartment="A07") == "Door A07 is open: put the papers in and close the door"
    assert tr("no.such.key") == "no.such.key"
    assert tr("fingerprint.capture", capture=1) == "Capture 1 of {captures}"  # a missing value stays visible


def test_inactivity_watcher_warns_then_expires() -> None:
    now = [100.0]
    w = InactivityWatcher(timeout=60, warning=15, clock=lambda: now[0])
    now[0] += 44
    assert w.state() == "ok"
    now[0] += 2
    assert w.state() == "warn"
    w.poke()
    assert w.state() == "ok"
    now[0] += 61
    assert w.state() == "expired"


def test_device_watch_names_the_failed_device_and_its_services() -> None:
    calls: list[int] = []
    idcard = StatusTracker("idcard", DeviceStatus.ONLINE)
    locker = StatusTracker("locker", DeviceStatus.ONLINE)
    spare = StatusTracker("door_reader", DeviceStatus.OFFLINE)  # not required: ignored
    trackers = {"idcard": idcard, "locker": locker, "door_reader": spare}
    watch = DeviceWatch(trackers, ["idcard", "locker"], lambda: calls.append(1))
    assert watch.view() is None
    locker.set(DeviceStatus.HARDWARE_ERROR, "board 1 silent")
    view = watch.view()
    assert view is not None and view.screen is Screen.OUT_OF_SERVICE
    assert view.params["devices"] == [{"device": "locker", "status": "hardware_error", "detail": "board 1 silent"}]
    assert view.params["services"] == ["deposit", "pickup"]
    assert watch.view() is view  # unchanged problems: the same View, no redraw
    locker.set(DeviceStatus.BUSY)
    assert watch.view() is None
    assert len(calls) == 2
    watch.close()
    locker.set(DeviceStatus.OFFLINE)
    assert len(calls) == 2


def test_ui_settings_read_defensively() -> None:
    class Cfg:
        class ui:  # noqa: N801 - mimics a config section
            orientation = "landscape"
            idle_timeout = 30

    s = ui_settings(Cfg())
    assert (s.orientation, s.idle_timeout, s.idle_warning, s.language) == ("landscape", 30.0, 15.0, "zh")
    assert ui_settings(object()).orientation == "portrait"


def test_speaker_speaks_in_its_thread_and_is_silent_when_disabled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import stat
    import time

    fake = tmp_path / "espeak-ng"
    log = tmp_path / "said.txt"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    speaker = Speaker(enabled=True, espeak=str(fake))
    speaker.player = None
    speaker.say("请插入身份证", "zh")
    for _ in range(100):
        if log.exists():
            break
        time.sleep(0.02)
    assert "-v cmn" in log.read_text() and "请插入身份证" in log.read_text()
    speaker.close()
    off = Speaker(enabled=False, espeak=str(fake))
    off.say("hello", "en")
    assert off.spoken == []


def test_chime_is_a_short_wav() -> None:
    with wave.open(io.BytesIO(synthesise_chime())) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 16000
        assert 0.3 < w.getnframes() / w.getframerate() < 1.0
