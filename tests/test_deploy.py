"""`make install` into a staging root, and the systemd units it installs."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted(p.name for p in (ROOT / "systemd").iterdir()  # the kiosk's units (backoffice-* are the server's)
               if p.suffix in (".service", ".timer") and p.name.startswith("kiosk"))


def run_installer(dest: Path, action: str = "install", **env: str) -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install.sh"), action],
        # the release's dependencies from this project's .venv (a .pth file): what is staged is the kiosk
        env={**os.environ, "DESTDIR": str(dest), "KIOSK_INSTALL_DEPS": "0",
             "KIOSK_DEPS_FROM": sysconfig.get_paths()["purelib"], **env},
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("root")
    return dest, run_installer(dest)


def test_install_produces_the_expected_tree(staged: tuple[Path, str]) -> None:
    dest, _ = staged
    for unit in UNITS:
        assert (dest / "etc/systemd/system" / unit).is_file(), unit
    assert (dest / "etc/pam.d/kiosk").is_file()
    assert (dest / "etc/udev/rules.d/99-kiosk.rules").is_file()
    assert (dest / "opt/kiosk/src/kiosk/cli.py").is_file()
    assert os.access(dest / "opt/kiosk/venv/bin/kiosk", os.X_OK)
    assert not (dest / "opt/kiosk/src/.venv").exists()
    conf = dest / "etc/kiosk/kiosk.toml"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert stat.S_IMODE((dest / "var/lib/kiosk").stat().st_mode) == 0o700


def test_installed_config_is_valid_for_the_installed_kiosk(staged: tuple[Path, str]) -> None:
    dest, _ = staged
    proc = subprocess.run([str(dest / "opt/kiosk/venv/bin/kiosk"), "--config", str(dest / "etc/kiosk/kiosk.toml"),
                           "config", "check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "hardware" in proc.stdout and "simulated" not in proc.stdout


def test_second_install_changes_nothing_and_keeps_the_edited_config(staged: tuple[Path, str]) -> None:
    dest, _ = staged
    conf = dest / "etc/kiosk/kiosk.toml"
    conf.write_text(conf.read_text().replace("XX镇", "三合镇"))
    out = run_installer(dest)
    assert "wrote" not in out
    assert "kept the existing /etc/kiosk/kiosk.toml" in out
    assert "三合镇" in conf.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed here")
@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies(staged: tuple[Path, str], unit: str, tmp_path: Path) -> None:
    """systemd-analyze verify on the installed unit, pointed at the staged /opt/kiosk."""
    dest, _ = staged
    text = (dest / "etc/systemd/system" / unit).read_text()
    (tmp_path / unit).write_text(text.replace("/opt/kiosk/", f"{dest}/opt/kiosk/"))
    if unit.endswith(".timer"):
        service = unit.replace(".timer", ".service")
        (tmp_path / service).write_text(
            (dest / "etc/systemd/system" / service).read_text().replace("/opt/kiosk/", f"{dest}/opt/kiosk/"))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode == 0 and not problems, problems


def test_every_kiosk_command_the_units_run_exists() -> None:
    from kiosk.cli import build_parser

    parser = build_parser()
    for unit in UNITS:
        for line in (ROOT / "systemd" / unit).read_text().splitlines():
            m = re.match(r"ExecStart=.*?/venv/bin/kiosk (.+?)(?: --|$)", line)
            if m:
                words = m.group(1).split()
                parser.parse_args(words)  # SystemExit(2) when the command does not exist


def test_uninstall_keeps_data_unless_purged(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    run_installer(dest)
    (dest / "var/lib/kiosk/kiosk.db").write_bytes(b"cases")
    out = run_installer(dest, "uninstall")
    assert not (dest / "opt/kiosk").exists()
    assert not (dest / "etc/systemd/system/kiosk.service").exists()
    assert (dest / "var/lib/kiosk/kiosk.db").read_bytes() == b"cases"
    assert "kept /etc/kiosk and /var/lib/kiosk" in out
    run_installer(dest, "uninstall", PURGE="1")
    assert not (dest / "var/lib/kiosk").exists() and not (dest / "etc/kiosk").exists()
