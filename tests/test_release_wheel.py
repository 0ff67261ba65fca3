"""The built wheel holds everything the app needs at run time, proven from a venv outside the source.

The wheel is built from a copy of the source (so no build/ or egg-info lands in the tree), installed
with --no-deps into a fresh virtualenv in a temporary folder; the dependencies come from this
project's .venv through a .pth file (the wheel is what is tested, not PyPI). From there, with the
working directory outside the source tree: `kiosk --version`, `kiosk config check`, and the idle
screen rendered headless — its .kv layout, Chinese font and translations all from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk import __version__

ROOT = Path(__file__).resolve().parent.parent
RENDER = ROOT / "tests" / "release_support" / "render_idle.py"

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]


def source_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout
    names = "\0".join(n for n in files.decode().split("\0") if n and (ROOT / n).is_file())
    dest.mkdir()
    packed = subprocess.run(["tar", "-cf", "-", "--null", "-T", "-"], cwd=ROOT, input=names.encode(),
                            capture_output=True, check=True).stdout
    subprocess.run(["tar", "-xf", "-"], cwd=dest, input=packed, check=True)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, a fresh venv with it installed) — both outside the source tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = source_copy(tmp / "src")
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps-from-dev-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheel, venv


def test_the_wheel_holds_every_kv_file_and_all_of_assets(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    kv = {str(p.relative_to(ROOT)) for p in (ROOT / "kiosk").rglob("*.kv")}
    assets = {str(p.relative_to(ROOT)) for p in (ROOT / "assets").rglob("*") if p.is_file()}
    assert kv and kv <= names, sorted(kv - names)
    assert assets and assets <= names, sorted(assets - names)
    assert wheel.name.startswith(f"kiosk_controller-{__version__}-")


def test_kiosk_runs_from_the_installed_wheel_outside_the_source_tree(installed: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    _, venv = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIOSK_CONFIG")}
    env.update({"KIVY_NO_ARGS": "1", "SDL_VIDEODRIVER": "offscreen", "KIVY_HOME": str(tmp_path / "kivy")})
    run = lambda *a: subprocess.run([str(venv / "bin" / "kiosk"), *a], capture_output=True, text=True,  # noqa: E731
                                    cwd=tmp_path, env=env, timeout=120)
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"kiosk {__version__}"
    conf = tmp_path / "kiosk.toml"
    conf.write_text((ROOT / "config" / "kiosk.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    check = run("--config", str(conf), "config", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "valid" in check.stdout and "hardware" in check.stdout

    result, png = tmp_path / "idle.json", tmp_path / "idle.png"
    proc = subprocess.run([str(venv / "bin" / "python"), str(RENDER), "zh", str(result), str(png)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180)
    assert proc.returncode == 0 and result.exists(), proc.stderr[-3000:]
    report = json.loads(result.read_text())
    assert Path(report["package"]).is_relative_to(venv), report["package"]  # not the source tree's kiosk
    texts = report["texts"]
    assert report["screen"] == "idle"
    assert texts["welcome"] == "欢迎使用自助服务"  # the translations came with the wheel
    assert texts["version"] == f"v{__version__}"
    assert "人工服务" in texts["staffed"] and "08:30" in texts["staffed"]
    shot = next(tmp_path.glob("idle*.png"))  # Kivy numbers its screenshots
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10, "the screenshot is blank"
