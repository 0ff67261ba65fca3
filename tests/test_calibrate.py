"""``kiosk calibrate face DIR`` on the real test photos: what a vendor runs on field data."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from kiosk.calibrate import suggest_threshold
from kiosk.cli import main

FACES = Path(__file__).parent / "data" / "faces"

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:  # noqa: ANN001
    """DIR/<person>/<photo>.jpg from the test photos (two people), plus a photo without a face."""
    root = tmp_path_factory.mktemp("field")
    for person, names in {"person_a": ["obama_1", "obama_2"], "person_b": ["biden_1", "biden_2"]}.items():
        (root / person).mkdir()
        for name in names:
            shutil.copy(FACES / f"{name}.jpg", root / person / f"{name}.jpg")
    (root / "person_b" / "notes.txt").write_text("not a photo")
    (root / "person_b" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def numbers(line: str) -> dict[str, float]:
    words = line.split()
    return {words[i]: float(words[i + 1]) for i in range(len(words) - 1) if words[i] in ("min", "max", "median")}


def test_prints_both_distributions_and_a_threshold_between_them(labelled, capsys) -> None:
    assert main(["calibrate", "face", str(labelled)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    genuine = numbers(next(ln for ln in lines if ln.startswith("genuine")))
    impostor = numbers(next(ln for ln in lines if ln.startswith("impostor")))
    assert "2 pairs" in next(ln for ln in lines if ln.startswith("genuine"))  # one per person
    assert "4 pairs" in next(ln for ln in lines if ln.startswith("impostor"))  # 2 × 2 across people
    assert genuine["max"] < 0.6 < impostor["min"]  # the two people are told apart at the kiosk's setting
    suggested = float(next(ln for ln in lines if ln.startswith("suggested")).split()[2])
    assert genuine["max"] < suggested < impostor["min"]
    assert "skipped person_b/broken.jpg: not a readable image" in out
    assert "limited by the data" in out  # 4 impostor pairs cannot show a 0.1 % false-accept rate


def test_a_folder_without_two_people_says_what_is_missing(tmp_path, capsys) -> None:
    (tmp_path / "only_one").mkdir()
    shutil.copy(FACES / "obama_1.jpg", tmp_path / "only_one" / "a.jpg")
    assert main(["calibrate", "face", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "need at least two photos of one person and photos of two people" in err
    assert main(["calibrate", "face", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_suggestion_keeps_false_accepts_at_the_target_when_there_is_enough_data() -> None:
    genuine = [0.3 + 0.001 * i for i in range(300)]  # 0.30 … 0.60
    impostor = [0.45 + 0.0005 * i for i in range(2000)]  # 0.45 … 1.45, overlapping the genuine tail
    s = suggest_threshold(genuine, impostor, target_far=0.001)
    assert not s.limited_by_data
    assert s.false_accept <= 0.001 and 0.45 <= s.threshold < 0.452
    assert s.false_reject == pytest.approx(sum(d > s.threshold for d in genuine) / 300)
