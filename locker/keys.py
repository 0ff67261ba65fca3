"""Which data key the store's data belongs to, where the key comes from, and rotating it.

Why: a missing key used to be silently replaced while the old ciphertext stayed, and a wrong
32-byte key (another kiosk's, a damaged one) started normally; every existing case was then
unreadable while `kiosk doctor` stayed green. Now the database records the key's id and a check
value (``key_meta``), and a key that does not match is refused at start, naming the key id whose
backup must be restored. A key is created only for a database that holds no encrypted data.

Where the key comes from: a systemd credential (``LoadCredentialEncrypted=kiosk-data-key`` in
kiosk.service: sealed to the TPM where there is one, else to the host's credential secret, and
kept off the data disk) when ``$CREDENTIALS_DIRECTORY/kiosk-data-key`` exists; otherwise the
configured key file.

Lookup MACs (pickup codes, fingerprint page mapping) use a lookup key kept *wrapped* (encrypted
with the data key) in ``key_meta``: a rotation re-wraps it, so codes already handed to residents
keep working under a new data key. A database from before key ids keeps its old MAC key (derived
from the data key) as its lookup key.

Rotation (``kiosk key rotate``) is interrupt-safe: the next key is written beside the key file
(``<key>.next``) and each scan file re-encrypted beside itself (``.rotating``) first; then ONE
database transaction re-encrypts every blob, re-wraps the lookup key, re-chains the audit log
under the new key and records the new key id. Whoever opens the store next finishes the job from
what the database says: the old id recorded → the rotation never happened (leftovers removed);
the new id recorded → rename the ``.rotating`` files and the next key into place. A sealed key
(``/etc/credstore.encrypted/kiosk-data-key``, rotated from a root shell) gets its successor sealed
the same way (``<credential>.next``, then renamed); the service picks it up at its next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from locker.crypto import KEY_BYTES, Cipher, load_key_file
from locker.db import Database
from locker.errors import KeyFileError
from locker.fsutil import atomic_write, fsync_dir

log = logging.getLogger(__name__)

CREDENTIAL_NAME = "kiosk-data-key"
ROTATING_SUFFIX = ".rotating"
NEXT_SUFFIX = ".next"

_META_SQL = """CREATE TABLE IF NOT EXISTS key_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    key_check TEXT NOT NULL,
    lookup_key_enc BLOB NOT NULL,
    audit_scheme TEXT NOT NULL DEFAULT 'hmac-v1',
    rotating_to TEXT,
    recorded_at REAL NOT NULL
)"""


def key_id(key: bytes) -> str:
    """A short public name for a key (16 hex), the same wherever the key is."""
    return hmac.new(key, b"kiosk-store/key-id/v1", hashlib.sha256).hexdigest()[:16]


def key_check(key: bytes) -> str:
    """The check value stored with the data: proves a key is THE key without revealing it."""
    return hmac.new(key, b"kiosk-store/key-check/v1", hashlib.sha256).hexdigest()


def credential_path() -> Path | None:
    """The data key handed over by systemd (``LoadCredentialEncrypted=``), if there is one."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_NAME
    return path if path.exists() else None


def sealed_path() -> Path | None:
    """The sealed credential itself (``/etc/credstore.encrypted``), for commands run from a root shell."""
    directory = Path(os.environ.get("KIOSK_CREDSTORE", "/etc/credstore.encrypted"))
    path = directory / CREDENTIAL_NAME
    return path if path.exists() else None


@dataclass(frozen=True)
class KeySource:
    path: Path
    kind: str  # "file", "credential" (systemd decrypted it for us) or "sealed" (we ask systemd-creds)

    @property
    def credential(self) -> bool:
        """True for a systemd credential: read-only, never created or rotated here."""
        return self.kind != "file"

    def describe(self) -> str:
        if self.kind == "credential":
            return f"systemd credential {CREDENTIAL_NAME}"
        if self.kind == "sealed":
            return f"sealed credential {self.path}"
        return f"key file {self.path}"


def key_source(key_file: str | Path) -> KeySource:
    """Where the key comes from: the service's credential, else the sealed one, else the key file."""
    cred = credential_path()
    if cred is not None:
        return KeySource(cred, "credential")
    sealed = sealed_path()
    if sealed is not None:
        return KeySource(sealed, "sealed")
    return KeySource(Path(key_file), "file")


def read_key(source: KeySource) -> bytes:
    if source.kind == "file":
        return load_key_file(source.path)
    if source.kind == "sealed":
        import subprocess

        try:
            proc = subprocess.run(
                ["systemd-creds", "decrypt", f"--name={CREDENTIAL_NAME}", "--newline=no", str(source.path), "-"],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KeyFileError(f"cannot unseal the {source.describe()}: {exc}") from exc
        if proc.returncode != 0:
            why = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no reason given"]
            raise KeyFileError(f"cannot unseal the {source.describe()} (run as root on this PC?): {why[0]}")
        key = proc.stdout
    else:
        try:
            key = source.path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read the {source.describe()}: {exc.strerror}") from exc
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"the {source.describe()} holds {len(key)} bytes, expected {KEY_BYTES}; it is damaged")
    return key


def seal_with() -> str:
    """systemd-creds' sealing: the TPM where there is one, else the host's credential secret."""
    return os.environ.get("KIOSK_CREDS_WITH_KEY") or ("tpm2" if Path("/dev/tpmrm0").exists() else "host")


def write_key(source: KeySource, key: bytes, path: Path) -> None:
    """Write ``key`` to ``path`` in the source's form: a 0600 file, or a sealed credential."""
    if source.kind == "file":
        atomic_write(path, key, mode=0o600)
        return
    import subprocess

    tmp = path.with_name(path.name + ".tmp")
    proc = subprocess.run(
        ["systemd-creds", "encrypt", f"--name={CREDENTIAL_NAME}", f"--with-key={seal_with()}", "-", str(tmp)],
        input=key,
        capture_output=True,
        timeout=60,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise KeyFileError(f"systemd-creds could not seal the new key: {proc.stderr.decode(errors='replace').strip()}")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_key_at(source: KeySource, path: Path) -> bytes:
    return read_key(KeySource(path, source.kind))


def ensure_meta_table(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(_META_SQL)


def meta_row(db: Database) -> sqlite3.Row | None:
    return db.query_one("SELECT * FROM key_meta WHERE id = 1")


def holds_encrypted_data(db: Database) -> bool:
    """Anything in the database that only a key can read (so a new key would orphan it)."""
    if meta_row(db) is not None:
        return True
    probes = (
        "SELECT 1 FROM cases WHERE identity_enc IS NOT NULL OR photo_enc IS NOT NULL"
        " OR fingerprint_enc IS NOT NULL LIMIT 1",
        "SELECT 1 FROM scan_files WHERE purged_at IS NULL LIMIT 1",
        "SELECT 1 FROM cases LIMIT 1",  # pickup code MACs are keyed too
    )
    return any(db.query_one(sql) is not None for sql in probes)


def _sample_blob(db: Database) -> tuple[bytes, str, str] | None:
    row = db.query_one("SELECT case_code, identity_enc FROM cases WHERE identity_enc IS NOT NULL LIMIT 1")
    return None if row is None else (bytes(row["identity_enc"]), row["case_code"], "identity")


def legacy_mac_key(key: bytes) -> bytes:
    """The MAC key of databases from before key ids (pickup codes were MAC'd with it)."""
    return hmac.new(key, b"kiosk-store/mac-key/v1", hashlib.sha256).digest()


def wrap_lookup_key(cipher: Cipher, lookup_key: bytes) -> bytes:
    return cipher.encrypt(lookup_key, table="key_meta", row=1, field="lookup_key")


def unwrap_lookup_key(cipher: Cipher, blob: bytes) -> bytes:
    return cipher.decrypt(blob, table="key_meta", row=1, field="lookup_key")


def missing_key_message(db: Database, source: KeySource) -> str:
    row = meta_row(db)
    named = f"key id {row['key_id']}" if row is not None else "the key it was encrypted with"
    return (
        f"the {source.describe()} is missing but the database {db.path} already holds encrypted data "
        f"({named}); a new key would make every stored case unreadable, so none was created — restore the "
        f"backup of {named} to {source.path} (kiosk key id shows a key file's id)"
    )


def open_cipher(db: Database, key_file: str | Path, *, create: bool) -> Cipher:
    """The store's cipher, refusing a key that does not belong to this database (see the module doc)."""
    ensure_meta_table(db)
    source = key_source(key_file)
    if source.kind in ("file", "sealed"):
        finish_interrupted_rotation(db, source.path, source=source)
    if not source.credential and not source.path.exists():
        if holds_encrypted_data(db):
            raise KeyFileError(missing_key_message(db, source))
        if not create:
            raise KeyFileError(
                f"key file {source.path} does not exist and creating it is not allowed by the configuration; "
                f"restore it from the key backup"
            )
        load_key_file(source.path, create=True)
    key = read_key(source)
    if meta_row(db) is None:
        return _record_first_key(db, key, source)
    return open_recorded(db, key, source)


def open_recorded(db: Database, key: bytes, source: KeySource) -> Cipher:
    """The cipher for a database that recorded its key: refused unless ``key`` is that key."""
    row = meta_row(db)
    assert row is not None
    if not hmac.compare_digest(row["key_check"], key_check(key)):
        if row["rotating_to"]:
            raise KeyFileError(
                f"the {source.describe()} (key id {key_id(key)}) is not the key of the data in {db.path}: a key "
                f"rotation to key id {row['key_id']} was interrupted; run `kiosk key id` as root to finish it"
            )
        raise KeyFileError(
            f"the {source.describe()} has key id {key_id(key)}, but the data in {db.path} was encrypted with "
            f"key id {row['key_id']}; refusing to start with the wrong key — restore the backup of key id "
            f"{row['key_id']} to {source.path}"
        )
    cipher = Cipher(key)
    cipher.set_lookup_key(unwrap_lookup_key(cipher, bytes(row["lookup_key_enc"])))
    cipher.audit_scheme = row["audit_scheme"]
    return cipher


def _record_first_key(db: Database, key: bytes, source: KeySource) -> Cipher:
    """First start with key ids: a new database, or one written before them (check a sample first)."""
    cipher = Cipher(key)
    sample = _sample_blob(db)
    if sample is not None:
        blob, case_code, fld = sample
        from locker.errors import DecryptionError

        try:
            cipher.decrypt(blob, table="cases", row=case_code, field=fld)
        except DecryptionError:
            raise KeyFileError(
                f"the {source.describe()} (key id {key_id(key)}) does not decrypt the data already in {db.path}; "
                f"refusing to start with the wrong key — restore the key file from its backup"
            ) from None
    audit_key = cipher.derive(b"kiosk-store/audit-chain/v1")
    from locker.audit import rechain, verify_chain

    # One transaction: the chain re-keyed and the key recorded together, or neither (a crash in
    # between must not leave a keyed chain that the next start checks as a plain one).
    with db.transaction() as conn:
        if meta_row(db) is not None:  # another opener recorded it meanwhile: check against that
            return open_recorded(db, key, source)
        legacy = db.query_one("SELECT 1 FROM cases LIMIT 1") is not None
        lookup = legacy_mac_key(key) if legacy else os.urandom(KEY_BYTES)
        cipher.set_lookup_key(lookup)
        report = verify_chain(db)
        if report.ok:
            rechain(db, conn, audit_key)
            scheme = "hmac-v1"
        else:
            log.error("audit log does not verify; it keeps its plain hashes so the damage stays visible:\n%s",
                      report)
            scheme = "sha256"
        cipher.audit_scheme = scheme
        conn.execute(
            "INSERT INTO key_meta (id, key_id, key_check, lookup_key_enc, audit_scheme, recorded_at)"
            " VALUES (1, ?, ?, ?, ?, ?)",
            (key_id(key), key_check(key), wrap_lookup_key(cipher, lookup), scheme, time.time()),
        )
    log.info("data key id %s recorded with the data in %s", key_id(key), db.path)
    cipher.just_recorded = True
    return cipher


class StoreLock:
    """A shared lock on the data folder for every opener; a key rotation needs it alone.

    Why: a running kiosk holds the old key in memory and would keep writing with it while
    ``kiosk key rotate`` re-encrypts underneath; the rotation refuses instead ("stop the kiosk").
    """

    def __init__(self, data_dir: Path, *, exclusive: bool = False) -> None:
        import fcntl

        data_dir.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(data_dir / ".store.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            why = (
                "the kiosk or another command has it open; stop the kiosk (systemctl stop kiosk) and try again"
                if exclusive
                else "a key rotation is running; wait for it to finish"
            )
            raise KeyFileError(f"the store in {data_dir} is in use: {why}") from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- rotation ---------------------------------------------------------------------------------------
def _next_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + NEXT_SUFFIX)


def _rotating_files(db: Database, scans_root: Path) -> list[tuple[Path, Path]]:
    rows = db.query("SELECT rel_path FROM scan_files WHERE purged_at IS NULL")
    out = []
    for r in rows:
        final = scans_root / r["rel_path"]
        out.append((final.with_name(final.name + ROTATING_SUFFIX), final))
    return out


def finish_interrupted_rotation(
    db: Database, key_path: Path, scans_root: Path | None = None, *, source: KeySource | None = None
) -> str | None:
    """Complete or undo a rotation a crash interrupted; returns what was done (None: nothing to do)."""
    row = meta_row(db)
    nxt = _next_path(key_path)
    scans_root = scans_root or db.path.parent / "scans"
    if row is None or not nxt.exists():
        leftovers = list(scans_root.glob(f"*/*{ROTATING_SUFFIX}")) if scans_root.exists() else []
        for p in leftovers:
            with contextlib.suppress(OSError):
                p.unlink()
        return None
    new_key = read_key_at(source or KeySource(key_path, "file"), nxt)
    if hmac.compare_digest(row["key_check"], key_check(new_key)):
        # committed: move the re-encrypted files and the key into place
        for tmp, final in _rotating_files(db, scans_root):
            if tmp.exists():
                os.replace(tmp, final)
                fsync_dir(final.parent)
        _rewrite_anchor(db, Cipher(new_key).derive(b"kiosk-store/audit-chain/v1"))
        os.replace(nxt, key_path)
        fsync_dir(key_path.parent)
        with db.transaction() as conn:
            conn.execute("UPDATE key_meta SET rotating_to = NULL WHERE id = 1")
        log.warning("finished an interrupted key rotation: key id %s is now in %s", row["key_id"], key_path)
        return "finished"
    # never committed: the old key still rules; drop the leftovers
    for tmp, _final in _rotating_files(db, scans_root):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    nxt.unlink()
    fsync_dir(key_path.parent)
    with db.transaction() as conn:
        conn.execute("UPDATE key_meta SET rotating_to = NULL WHERE id = 1")
    log.warning("undid an interrupted key rotation: the data stays under key id %s", row["key_id"])
    return "undone"


def _rewrite_anchor(db: Database, audit_key: bytes) -> None:
    """The anchor of a re-chained log (the commit may have happened without its after-commit write)."""
    from locker.audit import write_anchor

    last = db.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if last is not None:
        write_anchor(db.path.with_name(db.path.name + ".audit-anchor"), last["seq"], last["hash"], key=audit_key,
                     force=True)


_BLOB_COLUMNS = (("cases", "case_code", ("identity_enc", "photo_enc", "fingerprint_enc")),)
_FIELD_OF = {"identity_enc": "identity", "photo_enc": "card_photo", "fingerprint_enc": "fingerprint"}


def rotate(
    db: Database,
    old: Cipher,
    key_path: Path,
    scans_root: Path,
    *,
    pause: float = 0.0,
    source: KeySource | None = None,
) -> str:
    """Re-encrypt everything under a fresh key (see the module doc); returns the new key id.

    ``pause`` sleeps between scan files (tests kill the process mid-way).
    """
    from locker.audit import rechain
    from locker.scan_files import ScanStore

    old_row = meta_row(db)
    assert old_row is not None
    from locker.audit import verify_chain

    report = verify_chain(db, key=old.audit_key)
    if not report.ok:
        raise KeyFileError(f"the audit log does not verify; a rotation would re-chain it and hide that:\n{report}")
    new_key = os.urandom(KEY_BYTES)
    nxt = _next_path(key_path)
    source = source or KeySource(key_path, "file")
    write_key(source, new_key, nxt)  # sealed the same way as the key it replaces
    with db.transaction() as conn:
        conn.execute("UPDATE key_meta SET rotating_to = ? WHERE id = 1", (key_id(new_key),))
    new = Cipher(new_key)
    new.set_lookup_key(old.lookup_key)
    new.audit_scheme = "hmac-v1"
    old_scans, new_scans = ScanStore(scans_root, old), ScanStore(scans_root, new)
    rows = db.query(
        "SELECT s.id, s.rel_path, s.paper_id, s.page, s.sha256, c.case_code FROM scan_files s"
        " JOIN cases c ON c.id = s.case_id WHERE s.purged_at IS NULL"
    )
    new_refs: dict[int, tuple[str, int]] = {}
    for r in rows:
        data = old_scans.read_raw(r["rel_path"], r["case_code"], r["paper_id"], r["page"])
        blob = new_scans.encrypt_blob(r["case_code"], r["paper_id"], r["page"], data)
        final = scans_root / r["rel_path"]
        atomic_write(final.with_name(final.name + ROTATING_SUFFIX), blob)
        new_refs[r["id"]] = (hashlib.sha256(blob).hexdigest(), len(blob))
        if pause:
            time.sleep(pause)
    with db.transaction() as conn:
        for r in conn.execute("SELECT case_code, identity_enc, photo_enc, fingerprint_enc FROM cases").fetchall():
            for col, fld in _FIELD_OF.items():
                if r[col] is None:
                    continue
                plain = old.decrypt(bytes(r[col]), table="cases", row=r["case_code"], field=fld)
                conn.execute(
                    f"UPDATE cases SET {col} = ? WHERE case_code = ?",
                    (new.encrypt(plain, table="cases", row=r["case_code"], field=fld), r["case_code"]),
                )
        from locker.staff import reencrypt_pins

        reencrypt_pins(conn, old, new)
        for row_id, (digest, size) in new_refs.items():
            conn.execute("UPDATE scan_files SET sha256 = ?, size = ? WHERE id = ?", (digest, size, row_id))
        rechain(db, conn, new.derive(b"kiosk-store/audit-chain/v1"))
        conn.execute(
            "UPDATE key_meta SET key_id = ?, key_check = ?, lookup_key_enc = ?, audit_scheme = 'hmac-v1',"
            " recorded_at = ? WHERE id = 1",
            (key_id(new_key), key_check(new_key), wrap_lookup_key(new, old.lookup_key), time.time()),
        )
    finish_interrupted_rotation(db, key_path, scans_root, source=source)
    log.warning("data key rotated: key id %s replaced %s", key_id(new_key), old_row["key_id"])
    return key_id(new_key)
