"""`make install` into a staging root, and the systemd units it installs."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
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


# The back office's server units: not installed by install.sh (a separate machine), so they are verified
# from systemd/ with the server's venv python (/opt/backoffice/venv/bin/python, absent here) replaced
# by this project's, which runs the same `-m backoffice` commands.
BACKOFFICE_UNITS = sorted(p.name for p in (ROOT / "systemd").iterdir()
                          if p.suffix in (".service", ".timer") and p.name.startswith("backoffice-"))


def _server_unit(name: str) -> str:
    return (ROOT / "systemd" / name).read_text().replace("/opt/backoffice/venv/bin/python", sys.executable)


def test_every_back_office_job_has_a_service_and_a_timer() -> None:
    names = {n.rsplit(".", 1)[0] for n in BACKOFFICE_UNITS}
    assert {"backoffice-fleet-check", "backoffice-sms-send", "backoffice-ratings-forward",
            "backoffice-results-check"} <= names
    for name in names:
        assert f"{name}.service" in BACKOFFICE_UNITS and f"{name}.timer" in BACKOFFICE_UNITS, name
        service = (ROOT / "systemd" / f"{name}.service").read_text()
        for line in ("User=backoffice", "EnvironmentFile=/etc/backoffice/backoffice.env", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"):
            assert line in service.splitlines(), (name, line)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed here")
@pytest.mark.parametrize("unit", BACKOFFICE_UNITS)
def test_back_office_unit_verifies(unit: str, tmp_path: Path) -> None:
    (tmp_path / unit).write_text(_server_unit(unit))
    if unit.endswith(".timer"):
        service = unit.replace(".timer", ".service")
        (tmp_path / service).write_text(_server_unit(service))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode == 0 and not problems, problems


def test_every_back_office_command_the_units_run_exists(tmp_path: Path) -> None:
    """`manage.py help CMD` fails for a command that does not exist (a typo in a unit would mean a
    timer that fails every run and residents who never get a text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_DB_")}
    env.update(BACKOFFICE_SQLITE_PATH=str(tmp_path / "bo.sqlite3"), PYTHONPATH=str(ROOT))
    for unit in BACKOFFICE_UNITS:
        for line in _server_unit(unit).splitlines():
            m = re.match(r"ExecStart=\S+ -m backoffice (\S+)", line)
            if m:
                proc = subprocess.run([sys.executable, "-m", "backoffice", "help", m.group(1)], env=env, cwd=tmp_path,
                                      capture_output=True, text=True, timeout=60)
                assert proc.returncode == 0, (unit, proc.stderr)
