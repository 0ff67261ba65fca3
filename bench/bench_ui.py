"""Touchscreen smoothness and start-up: camera preview with background work, cold start to idle.

Subject: p99 frame interval of the app showing the face screen's live preview while a face-check
load runs in a worker thread (``devices.face`` dlib detection + landmarks + encoding on 640 × 480
frames when importable, else a named OpenCV/numpy stand-in) and a device poller flips a
StatusTracker between online and busy every 20 ms. Baseline: the p99 with the preview alone, in
the same process and window, just before. Target ≤ 1.2×. Cold start: from spawning
``python`` to the first frame of the idle screen drawn (target ≤ 5 s). The app runs headless
(SDL offscreen, llvmpipe) in a child process at the kiosk's full 1080 × 1920.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASE_SECONDS = 5.0


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _face_load(stop: threading.Event, frames: list, done: list[int]) -> tuple[str, threading.Thread]:
    """Start the background face-check-like work; returns its name and thread."""
    try:
        import cv2

        from devices.face import default_engine

        engine = default_engine()
        rgb = cv2.cvtColor(frames[0], cv2.COLOR_BGR2RGB)
        name = "devices.face DlibEngine detect+landmarks+encode"

        def work() -> None:
            while not stop.is_set():
                for box in engine.detect(rgb):
                    engine.landmarks(rgb, box)
                    engine.encode(rgb, box)
                done[0] += 1

    except Exception as exc:  # the pipeline is optional here: fall back to a named stand-in
        import cv2
        import numpy as np

        name = f"stand-in (cv2 blur+Canny, numpy matmul); devices.face not usable: {exc}"

        def work() -> None:
            a = np.random.default_rng(0).random((300, 300))
            while not stop.is_set():
                cv2.Canny(cv2.GaussianBlur(frames[0], (9, 9), 0), 50, 150)
                a @ a
                done[0] += 1

    thread = threading.Thread(target=work, name="face-load", daemon=True)
    thread.start()
    return name, thread


def _process_load(stop: object) -> None:
    """The same face work in a separate process (no shared GIL with the UI)."""
    import cv2

    from devices.camera.scenes import build_scene
    from devices.face import default_engine

    engine = default_engine()
    rgb = cv2.cvtColor(build_scene("card_holder", (640, 480))[0], cv2.COLOR_BGR2RGB)
    while not stop.is_set():  # type: ignore[attr-defined]
        for box in engine.detect(rgb):
            engine.landmarks(rgb, box)
            engine.encode(rgb, box)


def child_frames(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    from devices.status import DeviceStatus, StatusTracker
    from flows.view import Screen
    from kiosk import ui_theme
    from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy

    configure_kivy(ui_theme.window_size("portrait"))
    from kivy.clock import Clock

    host = DemoHost(Screen.FACE)
    tracker = StatusTracker("idcard", DeviceStatus.ONLINE)
    app = KioskApp(host, UiSettings(speech=False, idle_timeout=3600), devices={"idcard": tracker})
    stamps: list[float] = []
    result: dict = {}
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def record(_dt: float) -> None:
        stamps.append(time.perf_counter())

    def intervals() -> list[float]:
        return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]

    def poll() -> None:
        while not stop.is_set():
            tracker.set(DeviceStatus.BUSY)
            time.sleep(0.01)
            tracker.set(DeviceStatus.ONLINE)
            time.sleep(0.01)

    def phase_alone(_dt: float) -> None:
        stamps.clear()
        Clock.schedule_once(phase_loaded, PHASE_SECONDS)

    def phase_loaded(_dt: float) -> None:
        alone = intervals()
        result["alone_p99"], result["alone_p50"], result["alone_frames"] = _p(alone, 0.99), _p(alone, 0.5), len(alone)
        frames = host._scene("face_camera")
        done = [0]
        result["load"], load_thread = _face_load(stop, frames, done)
        threads.append(load_thread)
        poller = threading.Thread(target=poll, name="poller", daemon=True)
        poller.start()
        threads.append(poller)
        result["done"] = done
        stamps.clear()
        Clock.schedule_once(finish, PHASE_SECONDS)

    def finish(_dt: float) -> None:
        loaded = intervals()
        stop.set()
        for thread in threads:  # dlib aborts the process if it is still running at exit
            thread.join(timeout=10)
        result["loaded_p99"], result["loaded_p50"], result["loaded_frames"] = (
            _p(loaded, 0.99),
            _p(loaded, 0.5),
            len(loaded),
        )
        result["load_iterations_per_s"] = result.pop("done")[0] / PHASE_SECONDS
        if result["load"].startswith("devices.face"):
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            pstop = ctx.Event()
            proc = ctx.Process(target=_process_load, args=(pstop,), daemon=True)
            proc.start()
            result["proc"] = (proc, pstop)
            Clock.schedule_once(lambda _dt: stamps.clear(), 1.5)  # the child's imports first
            Clock.schedule_once(finish_process, 1.5 + PHASE_SECONDS)
        else:
            done_all()

    def finish_process(_dt: float) -> None:
        proc, pstop = result.pop("proc")
        loaded = intervals()
        pstop.set()
        proc.join(timeout=10)
        result["process_p99"], result["process_p50"] = _p(loaded, 0.99), _p(loaded, 0.5)
        done_all()

    def done_all() -> None:
        preview = app.sm.current_screen.body.ids.preview
        result["preview_frames_shown"] = preview.frames_shown
        out.write_text(json.dumps(result))
        app.stop()

    Clock.schedule_interval(record, 0)
    Clock.schedule_once(phase_alone, 2.0)  # let the scene load and the window settle first
    app.run()


def child_start() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    from kiosk import ui_theme
    from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy

    configure_kivy(ui_theme.window_size("portrait"))
    from kivy.clock import Clock

    app = KioskApp(DemoHost(), UiSettings(speech=False))

    def drawn(_dt: float) -> None:  # the second frame: the first one with the idle screen on it is done
        print(f"IDLE_SHOWN {app.sm.current}", flush=True)
        app.stop()

    app.bind(on_start=lambda *_: Clock.schedule_once(lambda _dt: Clock.schedule_once(drawn, 0), 0))
    app.run()


def _env() -> dict[str, str]:
    return {**os.environ, "KIVY_NO_ARGS": "1", "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_CONSOLELOG": "1"}


def cold_start() -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child-start"], stdout=subprocess.PIPE, text=True, env=_env(), cwd=ROOT
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("IDLE_SHOWN"):
            elapsed = time.perf_counter() - started
            proc.wait(timeout=30)
            return elapsed
    proc.wait(timeout=30)
    raise RuntimeError("the app did not reach the idle screen")


def section() -> str:
    import tempfile

    starts = [cold_start() for _ in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frames.json"
        subprocess.run(
            [sys.executable, __file__, "--child-frames", str(out)], env=_env(), cwd=ROOT, check=True, timeout=120
        )
        r = json.loads(out.read_text())
    ratio = r["loaded_p99"] / r["alone_p99"]
    return "\n".join(
        [
            "## Touchscreen (Kivy, headless llvmpipe, 1080 × 1920)",
            "",
            "| measure | preview alone (baseline) | preview + background work | ratio | target |",
            "|---|---|---|---|---|",
            f"| p99 frame interval | {r['alone_p99'] * 1000:.1f} ms | {r['loaded_p99'] * 1000:.1f} ms "
            f"| {ratio:.2f}× | ≤ 1.2× |",
            f"| median frame interval | {r['alone_p50'] * 1000:.1f} ms | {r['loaded_p50'] * 1000:.1f} ms "
            f"| {r['loaded_p50'] / r['alone_p50']:.2f}× | |",
            f"| frames measured | {r['alone_frames']} | {r['loaded_frames']} | | |",
            *(
                [
                    f"| p99, face work in a separate process instead | {r['alone_p99'] * 1000:.1f} ms "
                    f"| {r['process_p99'] * 1000:.1f} ms | {r['process_p99'] / r['alone_p99']:.2f}× | ≤ 1.2× |"
                ]
                if "process_p99" in r
                else []
            ),
            "",
            f"Background work: {r['load']} ({r['load_iterations_per_s']:.1f} iterations/s) in a worker thread, "
            "plus a poller flipping a StatusTracker online/busy every 20 ms. dlib keeps the GIL during "
            "detection, so in a thread it delays the Kivy thread; the process row shows the same work without that.",
            f"Camera preview: 640 × 480 demo frames at 15 fps through FrameFeed; {r['preview_frames_shown']} frames "
            "shown in the run.",
            "",
            f"Cold start to the idle screen drawn (spawn → first idle frame): {min(starts):.2f} s best, "
            f"{max(starts):.2f} s worst of {len(starts)} (target ≤ 5 s).",
            "",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-frames":
        child_frames(Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-start":
        child_start()
    else:
        print(section())
