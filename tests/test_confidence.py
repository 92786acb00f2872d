"""The calibration: its arithmetic, its file, and that it belongs to the shipped reader."""

import json
import math
from pathlib import Path

import pytest

from index.answer.confidence import (
    Calibration,
    CalibrationError,
    Logistic,
    Signals,
    calibration_path,
    expected_calibration_error,
    load_calibration,
)
from index.reader import SHIPPED
from index.search.onnxcache import file_digest
from index.settings import READERS


def test_a_logistic_model_standardizes_then_weighs() -> None:
    model = Logistic(("a", "b"), (1.0, 0.0), (2.0, 1.0), (2.0, -1.0), 0.5)
    z = 0.5 + 2.0 * (3.0 - 1.0) / 2.0 - 1.0 * 1.0
    assert model({"a": 3.0, "b": 1.0}) == pytest.approx(1 / (1 + math.exp(-z)))
    assert model({"a": 1e9, "b": 0.0}) == pytest.approx(1.0)  # no overflow


def test_the_expected_calibration_error_and_its_reliability_table() -> None:
    # Two bins: 0.2 said, 0 right out of two; 0.9 said, right three times out of four.
    error, table = expected_calibration_error([0.2, 0.2, 0.9, 0.9, 0.9, 0.9], [0, 0, 1, 1, 1, 0])
    assert error == pytest.approx(2 / 6 * 0.2 + 4 / 6 * 0.15, abs=1e-4)
    assert table == [
        {"bin": "0.2-0.3", "count": 2, "confidence": 0.2, "outcome": 0.0},
        {"bin": "0.9-1.0", "count": 4, "confidence": 0.9, "outcome": 0.75},
    ]
    assert expected_calibration_error([1.0], [1.0])[0] == 0.0  # 1.0 falls in the last bin


def signals(**changed) -> Signals:
    base = dict(
        span_log_probability=-0.1, no_answer_log_probability=-9.0, closest=0.7, cosine=0.7,
        overlap=0.9, phrase=0.5, base=1.3, margin=6.0, share=0.95, agreement=0.95, words=2,
        unknown=False, rank=1, passage_cosine=0.6, passage_score=1.6, most_overlap=0.9,
    )  # fmt: skip
    return Signals(**(base | changed))


@pytest.mark.parametrize("reader", READERS)
def test_the_shipped_calibration_judges_a_clear_answer_sure_and_a_doubtful_one_not(
    reader: str,
) -> None:
    calibration = load_calibration(calibration_path(reader))
    clear = calibration.judge(signals())
    assert clear.status == "sure" and clear.confidence >= calibration.sure_threshold
    doubtful = calibration.judge(signals(span_log_probability=-4.0, margin=0.1, share=0.3))
    assert doubtful.status == "unsure" and doubtful.confidence < clear.confidence
    stranger = calibration.judge(
        signals(closest=0.1, cosine=0.1, overlap=0.0, no_answer_log_probability=-0.05,
                passage_cosine=0.1, passage_score=0.2, most_overlap=0.0, unknown=True)
    )  # fmt: skip
    assert stranger.status == "not covered"
    # Thresholds given override the fitted ones.
    assert calibration.judge(signals(), sure_threshold=1.0).status == "unsure"
    assert calibration.judge(signals(), covered_threshold=1.0).status == "not covered"


@pytest.mark.parametrize("reader", READERS)
def test_each_shipped_calibration_was_fitted_with_its_shipped_reader(reader: str) -> None:
    calibration = load_calibration(calibration_path(reader))
    assert calibration.reader == file_digest(SHIPPED[reader])[:16]
    assert 0 < calibration.covered_threshold < calibration.sure_threshold < 1
    held_out = calibration.fitted["out_of_fold"]
    assert held_out["expected_calibration_error"] <= 0.05
    assert held_out["sure_right"] >= 0.85


def test_a_missing_or_damaged_calibration_says_how_to_get_it_back(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="missing.*git checkout"):
        load_calibration(tmp_path / "calibration.json")
    damaged = tmp_path / "damaged.json"
    damaged.write_text(calibration_path().read_text()[:200])
    with pytest.raises(CalibrationError, match="damaged.*python -m index.training.calibration fit"):
        load_calibration(damaged)


def test_other_weights_are_warned_about(tmp_path: Path, caplog) -> None:
    other = tmp_path / "calibration.json"
    data = json.loads(calibration_path().read_text())
    other.write_text(json.dumps(data | {"reader": "0123456789abcdef"}))
    calibration = load_calibration(other, reader="fedcba9876543210")
    assert isinstance(calibration, Calibration)
    assert "fitted for other reader weights" in caplog.text
