"""A rating given at a kiosk reaches the back office with the puller's next round over the real HTTP
API (live server, the kiosk's real store and credential): one for an undelivered case waits and goes
once the case is there; a second rating of the same visit changes nothing."""

from __future__ import annotations

from pathlib import Path

from backoffice_support import Town, deliver, package
from fleet_support import fleet_kiosk

from backoffice.ratings.models import Rating, Rectification
from flows.resident_steps import Visit
from kiosk.config import BackofficeConfig
from kiosk.sync.pull import Puller
from locker.resident import ResidentStore


def test_kiosk_ratings_reach_the_back_office_with_the_pull(live_server, live_town: Town, client,
                                                           tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with fleet_kiosk(tmp_path / "k", live_server.url, "qidu-centre", live_town.token) as k:
        puller = Puller(k.store, BackofficeConfig(enabled=True, url=live_server.url, timeout_s=10),
                        credential_file=k.sender.credential_file, simulator=True, guide_dir=tmp_path / "guide")
        resident = ResidentStore(k.store.db, k.store.cipher)
        visit = Visit("deposit", "C3MRU76E")
        assert resident.add_rating(visit.rating("very_dissatisfied", ("waiting",), "等了很久"))
        assert not resident.add_rating(visit.rating("very_satisfied"))  # same visit: the first stands
        resident.add_rating(Visit("pickup", None).rating("satisfied"))

        assert puller.run_once() == "ok"
        # The case has not reached the back office yet: its rating waits, the anonymous one is held.
        assert list(Rating.objects.values_list("level", flat=True)) == ["satisfied"]
        assert [r.rating_id for r in resident.pending_ratings()] == [visit.visit_id]

        deliver(client, live_town.token, package())
        assert puller.run_once() == "ok"
        held = Rating.objects.get(rating_id=visit.visit_id)
        assert (held.level, held.reasons, held.note, held.case.case_code) == (
            "very_dissatisfied", ["waiting"], "等了很久", "C3MRU76E")
        assert Rectification.objects.filter(rating=held).exists()
        assert resident.pending_ratings() == []
        puller.stop()
