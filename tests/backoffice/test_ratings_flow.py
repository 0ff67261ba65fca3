"""好差评 in the back office: kiosk ratings arrive with the case (first one per visit stands), a 差评
opens a rectification due in working days with a required call-back when named, the resident rates
the case online once it is done and the fix once; the supervisor's table by service, kiosk, village
and clerk; forwarding to a local stand-in of the provincial platform, which may be down."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from backoffice_support import RESIDENT_ID, Town, deliver, kiosk_headers, package
from django.test import override_settings
from django.utils import timezone

import contract
from backoffice.cases import actions, workdays
from backoffice.cases.models import Case
from backoffice.ratings import actions as ratings
from backoffice.ratings.models import Rating, Rectification


@contextmanager
def platform_stand_in() -> Iterator[dict]:
    """A local stand-in of the provincial 好差评 platform: records each JSON record it is sent."""
    state: dict = {"received": [], "down": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state["down"]:
                self.send_response(502)
                self.end_headers()
                return
            state["received"].append(json.loads(body))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/haochaping"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _send(client, town: Town, *ratings: contract.Rating):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/ratings", contract.dumps(contract.RatingBatch("qidu-centre", ratings)),
                    content_type="application/json", **kiosk_headers(town.token))
    assert r.status_code == 200, r.content
    return r.json()


def _rating(rid: str, level: str, reasons: tuple[str, ...] = (), code: str | None = "C3MRU76E",
            occasion: str = "deposit") -> contract.Rating:
    return contract.Rating(rid, code, occasion, level, reasons, "排队太久" if reasons else "", time.time())


@pytest.mark.django_db
def test_kiosk_ratings_first_per_visit_stands_and_a_bad_one_opens_a_rectification(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    answer = _send(client, town, _rating("visit-1", "very_dissatisfied", ("waiting", "device_failed")),
                   _rating("visit-1", "very_satisfied"), _rating("visit-2", "satisfied", code="ZZZZZZZZ"))
    assert answer["accepted"] == ["visit-1", "visit-1"] and "visit-2" in answer["refused"]
    r = Rating.objects.get(rating_id="visit-1")
    assert r.level == "very_dissatisfied" and r.reasons == ["waiting", "device_failed"] and r.named
    assert (r.kiosk.kiosk_id, r.village, r.service_id) == ("qidu-centre", "七都镇区", "birth-cert")
    rect = Rectification.objects.get(rating=r)
    assert rect.due_date == workdays.add_working_days(timezone.localdate(), 5)

    client.force_login(town.users["super"])
    page = client.post(f"/ratings/rectifications/{rect.pk}", {"what": "fix", "note": "更换了读卡器"}, follow=True)
    assert "须先回访" in page.content.decode()  # a named 差评: call back first
    client.post(f"/ratings/rectifications/{rect.pk}", {"what": "callback", "note": "已电话回访，居民表示理解"})
    client.post(f"/ratings/rectifications/{rect.pk}", {"what": "fix", "note": "更换了读卡器"})
    rect.refresh_from_db()
    assert rect.callback_by == "super" and rect.fixed_at is not None

    # The resident, on the progress page, rates the fix once.
    client.logout()
    client.post("/track/C3MRU76E", {"answer": RESIDENT_ID[-4:]})
    case = Case.objects.get(case_code="C3MRU76E")
    for step in ("collect", "process", "approve"):
        case = actions.take_step(case, town.users["clerk"], step)
    case = actions.take_step(case, town.users["clerk"], "return", channel="counter")
    page = client.get("/track/C3MRU76E").content.decode()
    assert 'class="fix-level"' in page and 'id="rate-form"' in page
    client.post("/track/C3MRU76E/rate", {"fix": "1", "level": "satisfied"})
    client.post("/track/C3MRU76E/rate", {"fix": "1", "level": "very_dissatisfied"})
    rect.refresh_from_db()
    assert rect.fix_rating.level == "satisfied"

    # 一事一评 online once the case is done: the first stands.
    client.post("/track/C3MRU76E/rate", {"level": "dissatisfied", "reason": ["instructions_unclear"],
                                         "note": "看不懂"})
    client.post("/track/C3MRU76E/rate", {"level": "very_satisfied"})
    online = Rating.objects.get(rating_id="online-C3MRU76E")
    assert online.level == "dissatisfied" and online.reasons == ["instructions_unclear"] and online.clerk == "clerk"
    assert 'id="rated"' in client.get("/track/C3MRU76E").content.decode()
    assert Rectification.objects.filter(rating=online).exists()


@pytest.mark.django_db
def test_online_rating_needs_a_done_case_and_a_verified_visitor(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    assert client.post("/track/C3MRU76E/rate", {"level": "satisfied"}).status_code == 404  # not verified
    client.post("/track/C3MRU76E", {"answer": RESIDENT_ID[-4:]})
    assert 'id="rate"' not in client.get("/track/C3MRU76E").content.decode()  # still open: nothing to rate
    client.post("/track/C3MRU76E/rate", {"level": "satisfied"})
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_the_supervisor_table_by_service_kiosk_village_and_clerk(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    deliver(client, town.village_token, package("C3MRU76F", "qidu-kaixiangong",
                                                service=("hukou", "户口迁移", "Household move", 10)))
    _send(client, town, _rating("v1", "very_satisfied"), _rating("v2", "satisfied"),
          _rating("v3", "dissatisfied", ("staff_attitude",)))
    r = client.post("/api/v1/ratings", contract.dumps(contract.RatingBatch("qidu-kaixiangong", (
        _rating("v4", "basically_satisfied", code="C3MRU76F"),))), content_type="application/json",
        **kiosk_headers(town.village_token))
    assert r.status_code == 200
    client.force_login(town.users["super"])
    page = client.get("/ratings/?by=village").content.decode()
    assert 'data-key="七都镇区"' in page and 'data-key="开弦弓村"' in page
    from backoffice.ratings import stats
    today = timezone.localdate()  # the town's day (Asia/Shanghai), not the test machine's
    rows = {r["key"]: r for r in stats.table(Rating.objects.all(), "service", today, today)}
    assert rows["出生医学证明"]["total"] == 3 and rows["出生医学证明"]["bad"] == 1
    assert rows["出生医学证明"]["rate"] == pytest.approx(66.7) and rows["户口迁移"]["rate"] == 100.0
    assert {r["key"] for r in stats.table(Rating.objects.all(), "kiosk", today, today)} \
        == {"七都中心", "开弦弓村"}
    # Another town's supervisor sees none of them.
    client.force_login(town.users["sz-clerk"])
    assert "七都镇区" not in client.get("/ratings/?by=village").content.decode()


@pytest.mark.django_db
def test_forwarding_to_the_provincial_platform_stand_in(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    _send(client, town, _rating("v1", "very_dissatisfied", ("waiting",)), _rating("v2", "satisfied"))
    with platform_stand_in() as platform, override_settings(RATINGS={
            "rectify_working_days": 5, "forward": "http_json", "forward_url": platform["url"]}):
        platform["down"] = True
        assert ratings.forward_due() == (0, 2)
        assert "502" in Rating.objects.get(rating_id="v1").forward_error
        platform["down"] = False
        assert ratings.forward_due() == (2, 0) and ratings.forward_due() == (0, 0)
        rec = {r["id"]: r for r in platform["received"]}["v1"]
        assert rec["level"] == "very_dissatisfied" and rec["reasons"] == ["waiting"] and rec["channel"] == "kiosk"
        assert RESIDENT_ID not in json.dumps(platform["received"], ensure_ascii=False)


@pytest.mark.django_db
@override_settings(RATINGS={"rectify_working_days": 10})
def test_the_rectification_deadline_follows_the_locality(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    _send(client, town, _rating("v1", "dissatisfied", ("other",)))
    assert Rectification.objects.get().due_date == workdays.add_working_days(timezone.localdate(), 10)
