"""What the kiosk pulls from the back office (village kiosks sit behind NAT, so the kiosk always
dials out): staff accounts, the service guide, and the results to place.

Staff accounts. The back office sends everyone who serves this kiosk, whole, as a versioned
snapshot: badge, name and the PIN as a salted scrypt digest (never the PIN). The kiosk peppers the
digest with its own data key before storing it, exactly as ``locker/staff.py`` stores a PIN set on
the kiosk, so ``StaffAccounts.verify`` checks both alike. A badge the snapshot no longer lists is
deactivated in the same transaction: a revocation or a PIN change is in force within one
``pull_interval_s``. Accounts added on the kiosk itself (``kiosk staff add``) are left alone unless
the back office takes their badge over. When the back office is down, the last copy stays in force.

Service guide. A new version is checked by the kiosk's own loader before anything changes; a bad
one is refused with the reason, which the next heartbeat carries to the back office. A good one is
written beside the others and the pointer file is replaced atomically, then the running flows get
the new guide in one assignment between sessions (never while a resident is mid-deposit): a kiosk
runs one version or the other, never half of each. ``assets/guide`` is version 1.

Results to place. The list is kept in ``sync_state`` so the staff screen shows it offline too;
placing one is reported (compartment and time) with ``report_placed``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import contract
from flows.errors import GuideError
from flows.guide import ServiceGuide, load_guide, parse_guide
from kiosk.config import BackofficeConfig
from kiosk.sync.client import BackofficeClient
from kiosk.sync.credential import load_credential
from kiosk.sync.errors import NotEnrolled, SyncError
from kiosk.sync.queue import DeliveryQueue
from kiosk.sync.rounds import Rounds
from locker.fsutil import atomic_write
from locker.staff import PEPPER_SUFFIX, _pin_ad, ensure_staff_columns, staff_actor

log = logging.getLogger(__name__)

STAFF_VERSION = "staff_version"
STAFF_MANAGED = "staff_managed"  # badges the back office manages on this kiosk
GUIDE_REFUSED = "guide_refused"
RESULTS = "results_to_place"
GUIDE_POINTER = "current.json"


def current_guide(guide_dir: Path, default: Path) -> tuple[ServiceGuide, int]:
    """The guide the kiosk runs: the last version switched to, else ``assets/guide`` (version 1)."""
    try:
        pointer = json.loads((guide_dir / GUIDE_POINTER).read_text())
        path = guide_dir / f"v{int(pointer['version'])}.toml"
        if hashlib.sha256(path.read_bytes()).hexdigest() == pointer["sha256"]:
            return load_guide(path), int(pointer["version"])
        log.error("guide v%s in %s does not match its checksum; using %s", pointer["version"], guide_dir, default)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, GuideError) as exc:
        log.error("the pulled guide in %s is unreadable (%s); using %s", guide_dir, exc, default)
    return load_guide(default), 1


class Puller(Rounds):
    """One back office, pulled every ``pull_interval_s`` (or at once when a heartbeat says so)."""

    THREAD_NAME = "backoffice-pull"

    def __init__(self, store: Any, cfg: BackofficeConfig, *, credential_file: Path, simulator: bool,
                 guide_dir: Path, guide_version: int = 1,
                 on_guide: Callable[[ServiceGuide, int], bool] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store = store
        self.cfg = cfg
        self.credential_file = credential_file
        self.simulator = simulator
        self.guide_dir = guide_dir
        self.guide_version = guide_version
        self.on_guide = on_guide  # returns False when the switch must wait (a session is running)
        self.on_round: Callable[[], None] | None = None  # after each round (the runtime hooks the staff screen)
        self.clock = clock
        self.queue = DeliveryQueue(store.db, store.cipher, clock=clock)
        self.status = "starting"
        self._lock = threading.Lock()
        ensure_staff_columns(store.db)

    # -- what the heartbeat reports ----------------------------------------------------------------
    def versions(self) -> dict[str, Any]:
        return {"staff_version": int(self.queue.state(STAFF_VERSION, 0)), "guide_version": self.guide_version,
                "guide_refused": dict(self.queue.state(GUIDE_REFUSED, {}))}

    def on_heartbeat(self, answer: contract.HeartbeatAnswer) -> None:
        """The back office has something newer: pull now rather than at the next interval."""
        v = self.versions()
        if answer.staff_version != v["staff_version"] or (
                answer.guide_version != self.guide_version and str(answer.guide_version) not in v["guide_refused"]):
            self.wake()

    def results(self) -> list[contract.ResultToPlace]:
        return [contract.ResultToPlace.from_json(r, "results") for r in self.queue.state(RESULTS, [])]

    # -- thread ---------------------------------------------------------------------------------------
    def round(self) -> Any:
        return self.run_once()

    def round_wait(self, took: float) -> float:
        return max(1.0, self.cfg.pull_interval_s)

    # -- one round ------------------------------------------------------------------------------------
    def _client_for(self) -> BackofficeClient | None:
        try:
            cred = load_credential(self.credential_file)
        except NotEnrolled:
            self.status = "not enrolled"
            return None
        return self.client_for(cred, min(self.cfg.timeout_s, 15.0))

    def _get(self, client: BackofficeClient, path: str) -> Any:
        _, raw = client.request("GET", path, None)
        return json.loads(raw.decode("utf-8"))

    def run_once(self) -> str:
        with self._lock:
            client = self._client_for()
            if client is None:
                return self.status
            try:
                self.pull_staff(client)
                self.pull_guide(client)
                self.pull_results(client)
                self.push_ratings(client)
            except (SyncError, contract.ContractError, ValueError) as exc:
                message = getattr(exc, "message", str(exc))
                if not self.status.startswith("kept"):
                    log.warning("pull from the back office failed (%s); the kiosk keeps its last copy", message)
                self.status = f"kept last copy: {message}"
                return self.status
            self.status = "ok"
            if self.on_round is not None:
                self.on_round()
            return self.status

    def push_ratings(self, client: BackofficeClient) -> int:
        """The residents' ratings (好差评) queued at this kiosk go with each round (kiosk/sync/ratings.py)."""
        from kiosk.sync.ratings import push_ratings
        from locker.resident import ResidentStore

        kiosk_id = (self._client_token or "").partition(".")[0]
        return push_ratings(client, ResidentStore(self.store.db, self.store.cipher, clock=self.clock), kiosk_id)

    def pulled_results(self) -> bool:
        """Whether the back office has said at least once which results are for this kiosk."""
        return self.queue.state(RESULTS) is not None

    def staff_results_due(self, local: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The staff screen's "results to place": the back office's list, next to the pickups.

        Local collected cases the back office names are shown (its outcome added as ``backoffice``),
        in its order; the others wait until a decision comes. Before the first pull, or with the
        back office never reached, the kiosk's own list stands.
        """
        if not self.pulled_results():
            return local
        wanted = {r.case_code: r for r in self.results()}
        by_code = {str(item.get("case_code")): item for item in local}
        return [by_code[code] | {"backoffice": r.outcome, "ready_at": r.ready_at}
                for code, r in wanted.items() if code in by_code]

    # -- staff accounts -------------------------------------------------------------------------------
    def pull_staff(self, client: BackofficeClient) -> bool:
        have = int(self.queue.state(STAFF_VERSION, 0))
        snap = contract.StaffAccountsSnapshot.from_json(self._get(client, f"/fleet/staff?have={have}"))
        if snap.unchanged or snap.version == have:
            return False
        self.apply_staff(snap)
        return True

    def apply_staff(self, snap: contract.StaffAccountsSnapshot) -> None:
        """Make the kiosk's staff table hold exactly the snapshot's managed accounts, in one transaction."""
        cipher = self.store.cipher
        now = self.clock()
        managed_before = set(self.queue.state(STAFF_MANAGED, []))
        listed = {a.badge_uid for a in snap.accounts}
        added = changed = revoked = 0
        with self.store.db.transaction() as conn:
            for a in snap.accounts:
                salt = base64.b64decode(a.pin_salt_b64)
                digest = base64.b64decode(a.pin_digest_b64)
                spec = a.pin_kdf + PEPPER_SUFFIX if cipher is not None else a.pin_kdf
                stored = cipher.encrypt(digest, **_pin_ad(a.badge_uid)) if cipher is not None else digest
                row = conn.execute("SELECT name, pin_salt, active FROM staff WHERE badge_uid = ?",
                                   (a.badge_uid,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO staff (badge_uid, name, pin_kdf, pin_salt, pin_hash, created_at,"
                                 " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (a.badge_uid, a.name, spec, salt, stored, now, now))
                    added += 1
                elif bytes(row["pin_salt"]) != salt or row["name"] != a.name or not row["active"]:
                    # A new PIN (new salt) also ends a lock-out, as a PIN set on the kiosk does.
                    conn.execute("UPDATE staff SET name = ?, pin_kdf = ?, pin_salt = ?, pin_hash = ?, active = 1,"
                                 " failed_tries = 0, locked_until = NULL, lock_level = 0, updated_at = ?"
                                 " WHERE badge_uid = ?", (a.name, spec, salt, stored, now, a.badge_uid))
                    changed += 1
            for badge in managed_before - listed:
                revoked += conn.execute("UPDATE staff SET active = 0, updated_at = ? WHERE badge_uid = ?"
                                        " AND active = 1", (now, badge)).rowcount
            if self.store.audit is not None and (added or changed or revoked):
                self.store.audit.append("backoffice", "staff.sync", detail={
                    "version": snap.version, "added": added, "changed": changed, "revoked": revoked,
                    "badges": [staff_actor(b) for b in sorted(listed)][:50]})
            self.queue.set_state(STAFF_MANAGED, sorted(listed | (managed_before - listed)))
            self.queue.set_state(STAFF_VERSION, snap.version)
        log.info("staff accounts v%d from the back office: %d added, %d changed, %d revoked", snap.version, added,
                 changed, revoked)

    # -- service guide --------------------------------------------------------------------------------
    def pull_guide(self, client: BackofficeClient) -> bool:
        refused = dict(self.queue.state(GUIDE_REFUSED, {}))
        answer = self._get(client, f"/fleet/guide?have={self.guide_version}")
        version = answer.get("version") if isinstance(answer, dict) else None
        try:
            g = contract.GuideVersion.from_json(answer)
        except contract.ContractError as exc:  # damaged on the way: refuse it, say why
            if isinstance(version, int) and str(version) not in refused:
                self._refuse_guide(version, exc.message)
            return False
        if g.unchanged or g.version == self.guide_version or str(g.version) in refused:
            return False
        try:
            guide = parse_guide(tomllib.loads(g.services_toml), f"guide v{g.version}")
        except tomllib.TOMLDecodeError as exc:
            self._refuse_guide(g.version, f"services.toml is not valid TOML: {exc}")
            return False
        except GuideError as exc:
            self._refuse_guide(g.version, str(getattr(exc, "message", exc)))
            return False
        if self.on_guide is not None and not self.on_guide(guide, g.version):
            return False  # a resident is mid-session: switch at the next pull
        self.guide_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.guide_dir / f"v{g.version}.toml", g.services_toml.encode("utf-8"), mode=0o644)
        atomic_write(self.guide_dir / GUIDE_POINTER, json.dumps({"version": g.version, "sha256": g.sha256}).encode(),
                     mode=0o644)
        log.info("service guide switched from v%d to v%d", self.guide_version, g.version)
        if self.store.audit is not None:
            self.store.audit.append("backoffice", "guide.switch", detail={"from": self.guide_version,
                                                                          "to": g.version})
        self.guide_version = g.version
        return True

    def _refuse_guide(self, version: int, reason: str) -> None:
        log.error("service guide v%d from the back office refused: %s (the kiosk keeps v%d)", version, reason,
                  self.guide_version)
        refused = dict(self.queue.state(GUIDE_REFUSED, {}))
        refused[str(version)] = reason[:2000]
        self.queue.set_state(GUIDE_REFUSED, dict(list(refused.items())[-5:]))

    # -- results to place -----------------------------------------------------------------------------
    def pull_results(self, client: BackofficeClient) -> list[contract.ResultToPlace]:
        got = contract.ResultsToPlace.from_json(self._get(client, "/fleet/results"))
        self.queue.set_state(RESULTS, [r.__dict__ for r in got.results])
        return list(got.results)

    def report_placed(self, case_code: str, compartment_id: str, actor: str) -> None:
        """Staff placed a result: tell the back office where and when (and drop it from the list)."""
        client = self._client_for()
        if client is None:
            raise SyncError("this kiosk is not enrolled with a back office")
        msg = contract.ResultPlaced(case_code, compartment_id, self.clock(), actor)
        client.request("POST", f"/fleet/results/{quote(case_code)}/placed", contract.dumps(msg))
        self.queue.set_state(RESULTS, [r for r in self.queue.state(RESULTS, []) if r.get("case_code") != case_code])
