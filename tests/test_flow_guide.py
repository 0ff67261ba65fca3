"""The service guide data file and its loader; the receipt printer simulator and receipt bytes."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path

import pytest

from devices.printer import PrinterConfigError, ReceiptPrinter, ReceiptPrinterSimulator, split_jobs
from flows.errors import GuideError
from flows.guide import DEFAULT_GUIDE_PATH, load_guide, parse_guide
from flows.receipt import Receipt, ReceiptIssuer, parse_qr_payload, qr_png, view_params

RAW = tomllib.loads(DEFAULT_GUIDE_PATH.read_text(encoding="utf-8"))


def test_the_shipped_guide_has_at_least_15_services_each_with_papers_texts_and_days() -> None:
    guide = load_guide()
    assert len(guide.services) >= 15
    rebuild = guide.get("rural_house_rebuild")
    assert {"id_card", "hukou", "homestead_cert"} <= set(rebuild.paper_ids)
    assert rebuild.paper("building_plan").deferrable and not rebuild.paper("id_card").deferrable
    for s in guide.services.values():
        assert s.name_zh and s.name_en and s.guide_zh and s.guide_en and s.processing_days > 0
        assert any(not p.deferrable for p in s.papers)
    assert sum(len(v) for v in guide.by_category().values()) == len(guide.services)
    expected = {
        "housing_fund_withdrawal",
        "resident_pension_enrolment",
        "small_catering_licence",
        "disability_certificate",
        "minimum_living_allowance",
        "birth_registration",
        "senior_preferential_card",
        "temporary_assistance",
        "employment_registration",
        "farmland_subsidy",
    }
    assert expected <= set(guide.services)


def _broken(mutate) -> str:  # noqa: ANN001
    data = copy.deepcopy(RAW)
    mutate(data)
    with pytest.raises(GuideError) as err:
        parse_guide(data, "test.toml")
    return str(err.value)


def test_validation_names_the_service_and_the_field() -> None:
    assert "paper 'passport' is not under [papers]" in _broken(
        lambda d: d["service"][0]["papers"].append({"id": "passport", "deferrable": False})
    )
    assert "'days'" in _broken(lambda d: d["service"][1].update(days=0))
    assert "the id is used twice" in _broken(lambda d: d["service"].append(copy.deepcopy(d["service"][0])))
    assert "category 'space'" in _broken(lambda d: d["service"][2].update(category="space"))
    assert "unknown keys fee" in _broken(lambda d: d["service"][3].update(fee=10))
    assert "every paper is 容缺" in _broken(
        lambda d: d["service"][4].update(papers=[{"id": "id_card", "deferrable": True}])
    )
    assert "'deferrable' must be true or false" in _broken(
        lambda d: d["service"][5]["papers"][0].update(deferrable="yes")
    )
    msg = _broken(lambda d: (d["service"][0].pop("guide_en"), d["service"][1].update(zh="")))
    assert "guide_en" in msg and "rural_house_rebuild" in msg and "'zh'" in msg  # all problems at once


def test_unreadable_files_are_guide_errors(tmp_path: Path) -> None:
    with pytest.raises(GuideError, match="cannot read"):
        load_guide(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("version = [", encoding="utf-8")
    with pytest.raises(GuideError, match="not valid TOML"):
        load_guide(tmp_path / "bad.toml")


def _receipt() -> Receipt:
    return Receipt(
        "K7XQ2M9A",
        "483920",
        "社会保障卡补领、换领",
        "Social-security card",
        "S01",
        10,
        "测试镇便民服务中心",
        dt.datetime(2026, 11, 20, 22, 15),
        ("近期一寸免冠白底彩色照片",),
    )


def test_receipt_is_printed_as_escpos_with_chinese_in_gb18030_and_a_native_qr(tmp_path: Path) -> None:
    sim = ReceiptPrinterSimulator(tmp_path / "out.bin").start()
    issuer = ReceiptIssuer(ReceiptPrinter("simulator", sim.port, simulator=sim))
    assert issuer.can_print and issuer.print(_receipt())
    (job,) = sim.jobs()
    assert job.startswith(b"\x1b@") and job.endswith(b"\x1dV\x00")
    assert "社会保障卡补领".encode("gb18030") in job and b"\x1c&" in job
    assert b"\x1d(k" in job and b"1P0KIOSK-CASE:K7XQ2M9A" in job  # QR stored natively with the case code only
    assert b"483920" in job  # pickup code printed in text, not in the QR
    assert split_jobs(job + job) == [job, job]


def test_printer_switched_off_reports_false_and_the_screen_still_has_the_code(tmp_path: Path) -> None:
    sim = ReceiptPrinterSimulator(tmp_path / "out.bin").start()
    printer = ReceiptPrinter("simulator", sim.port, simulator=sim)
    sim.ctl_offline(True)
    assert ReceiptIssuer(printer).print(_receipt()) is False
    assert printer.status.status.value == "offline" and sim.jobs() == []
    sim.ctl_offline(False)
    assert ReceiptIssuer(printer).print(_receipt()) and len(sim.jobs()) == 1
    assert printer.status.status.value == "online"
    assert ReceiptIssuer(None).print(_receipt()) is False


def test_receipt_view_carries_a_decodable_qr_png() -> None:
    import cv2
    import numpy as np

    params = view_params(_receipt())
    assert parse_qr_payload(params["qr_payload"]) == "K7XQ2M9A" and parse_qr_payload("hello") is None
    img = cv2.imdecode(np.frombuffer(qr_png(params["qr_payload"]), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, *_ = cv2.QRCodeDetector().detectAndDecode(img)
    assert text == "KIOSK-CASE:K7XQ2M9A"


def test_unknown_printer_kind_is_a_config_error() -> None:
    with pytest.raises(PrinterConfigError):
        ReceiptPrinter("carrier-pigeon", "x")
