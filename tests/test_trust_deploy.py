"""Issue 12, deployment: the X11 unit is hardened like kiosk.service, the PAM stack denies
authentication, the data key comes from a sealed systemd credential, and vpcd stays off kiosk PCs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"


def exposure(unit: Path, tmp: Path) -> float:
    """`systemd-analyze security --offline=yes`'s overall exposure (0 safe .. 10 exposed)."""
    copy = tmp / unit.name
    copy.write_text(unit.read_text())
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(copy)],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", proc.stdout + proc.stderr)
    assert m, proc.stdout + proc.stderr
    return float(m.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed here")
def test_x11_unit_is_as_hardened_as_the_cage_unit(tmp_path: Path) -> None:
    cage = exposure(SYSTEMD / "kiosk.service", tmp_path)
    x11 = exposure(SYSTEMD / "kiosk-x11.service", tmp_path)
    assert cage <= 3.0, cage
    assert x11 <= cage + 0.1, f"kiosk-x11.service scores {x11}, kiosk.service {cage}"


def test_pam_stack_authenticates_nobody() -> None:
    lines = [ln.split() for ln in (SYSTEMD / "pam.d/kiosk").read_text().splitlines() if ln and not ln.startswith("#")]
    auth = [ln for ln in lines if ln[0] == "auth"]
    assert auth == [["auth", "required", "pam_deny.so"]]
    assert not any("pam_permit.so" in ln for ln in lines)


@pytest.mark.parametrize("unit", ["kiosk.service", "kiosk-x11.service", "kiosk-purge.service",
                                  "kiosk-selfcheck.service"])
def test_units_that_open_the_store_get_the_sealed_data_key(unit: str) -> None:
    text = (SYSTEMD / unit).read_text()
    assert re.search(r"^LoadCredentialEncrypted=kiosk-data-key$", text, re.M), unit


def test_make_install_installs_no_virtual_smartcard_reader() -> None:
    script = (ROOT / "scripts/install.sh").read_text()
    packages = re.search(r"RUNTIME_PACKAGES=\((.*?)\n\)", script, re.S)
    assert packages and "pcscd" in packages.group(1)
    assert "vsmartcard" not in packages.group(1) and "vpcd" not in packages.group(1)


def test_the_kiosk_reads_its_key_from_the_systemd_credential_not_the_data_disk(tmp_path: Path) -> None:
    """What systemd does for LoadCredentialEncrypted=: the decrypted key in $CREDENTIALS_DIRECTORY."""
    creds = tmp_path / "run-credentials"
    creds.mkdir(mode=0o700)
    (creds / "kiosk-data-key").write_bytes(os.urandom(32))
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\nstate_dir = "{tmp_path / "state"}"\n[store]\nmin_free_mb = 1\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CREDENTIALS_DIRECTORY": str(creds)}
    run = lambda *a: subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "kiosk.cli", "--config", str(cfg), *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    added = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "kiosk.cli", "--config", str(cfg), "staff", "add",
                            "04A1B2C3", "王"], input="24681357\n24681357\n", capture_output=True, text=True,
                           timeout=120, cwd=ROOT, env=env)
    assert added.returncode == 0, added.stdout + added.stderr
    assert not list((tmp_path / "state").rglob("*.key")), "a key file was written to the state folder"
    key_id = run("key", "id")
    assert key_id.returncode == 0 and "systemd credential kiosk-data-key" in key_id.stdout
    ids = re.findall(r"key id ([0-9a-f]{16})", key_id.stdout)
    assert len(ids) == 2 and ids[0] == ids[1], key_id.stdout
    doctor = run("doctor", "--no-devices")
    assert re.search(r"OK\s+data key\s+systemd credential kiosk-data-key", doctor.stdout), doctor.stdout
    (creds / "kiosk-data-key").write_bytes(os.urandom(32))  # another kiosk's sealed key
    doctor = run("doctor", "--no-devices")
    assert doctor.returncode == 1 and re.search(r"FAIL\s+data key", doctor.stdout), doctor.stdout
    listed = run("staff", "list")
    assert listed.returncode == 2 and f"key id {ids[0]}" in listed.stderr


@pytest.mark.skipif(shutil.which("systemd-creds") is None, reason="systemd-creds is not installed here")
def test_a_root_shell_command_unseals_the_credential_itself(tmp_path: Path) -> None:
    """`kiosk staff add` from a root shell has no $CREDENTIALS_DIRECTORY: it asks systemd-creds."""
    store = tmp_path / "credstore"
    store.mkdir()
    plain = tmp_path / "plain.key"
    plain.write_bytes(os.urandom(32))
    # tpm2-absent: a null sealing key, so the test needs neither a TPM nor the host's credential secret
    subprocess.run(["systemd-creds", "encrypt", "--name=kiosk-data-key", "--with-key=tpm2-absent", str(plain),
                    str(store / "kiosk-data-key")], check=True, capture_output=True, timeout=60)
    from locker import keys

    old = os.environ.get("KIOSK_CREDSTORE")
    os.environ["KIOSK_CREDSTORE"] = str(store)
    try:
        source = keys.key_source(tmp_path / "unused.key")
        assert source.kind == "sealed"
        assert keys.read_key(source) == plain.read_bytes()
    finally:
        if old is None:
            os.environ.pop("KIOSK_CREDSTORE")
        else:
            os.environ["KIOSK_CREDSTORE"] = old


def test_hardware_mode_never_defaults_to_the_virtual_card_readers(tmp_path: Path) -> None:
    example = (ROOT / "config/kiosk.example.toml").read_text()
    unnamed = re.sub(r'(\[devices\.(?:staff|door)_reader\]\n)reader = "[^"]*"[^\n]*\n', r"\1", example)
    assert unnamed != example
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(unnamed.replace('state_dir = "/var/lib/kiosk"', f'state_dir = "{tmp_path / "state"}"'))
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "kiosk.cli", "--config", str(cfg), "config", "check"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for name in ("staff_reader", "door_reader"):
        line = next(ln for ln in proc.stdout.splitlines() if ln.split()[:1] == [name])
        assert "disabled" in line and "no reader named" in line, proc.stdout
    from kiosk.config import load_config

    assert all(not d.enabled and d.reader == "" for n, d in load_config(cfg).devices.items() if n.endswith("_reader"))
