"""Per-target metrics: equal to scikit-learn (ties included), NaN + reason when undefined, per-class summary."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from danq_pipeline.errors import DanQError
from danq_pipeline.metrics import auroc_auprc, per_target_metrics, summarize


def _random_case(seed: int, n: int = 400, t: int = 11, decimals: int | None = 1):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, t)) < rng.uniform(0.02, 0.6, t)).astype(np.uint8)
    s = rng.random((n, t)) + 0.4 * y
    if decimals is not None:  # rounding makes many ties, the hard case
        s = np.round(s, decimals)
    return y, s.astype(np.float32)


@pytest.mark.parametrize("seed,decimals,block", [(0, 1, 4), (1, 2, 16), (2, None, 3), (3, 0, 5)])
def test_equal_to_sklearn_with_ties(seed, decimals, block):
    y, s = _random_case(seed, decimals=decimals)
    auroc, auprc = auroc_auprc(y, s, block=block)
    for t in range(y.shape[1]):
        assert auroc[t] == pytest.approx(roc_auc_score(y[:, t], s[:, t]), abs=1e-12), (
            f"AUROC target {t}"
        )
        assert auprc[t] == pytest.approx(average_precision_score(y[:, t], s[:, t]), abs=1e-12), (
            f"AUPRC target {t}"
        )


def test_hand_checked_values():
    y = np.array([[1], [0], [1], [0]])
    perfect = np.array([[0.9], [0.1], [0.8], [0.2]])
    assert auroc_auprc(y, perfect)[0][0] == 1.0
    assert auroc_auprc(y, -perfect)[0][0] == 0.0
    tied = np.full((4, 1), 0.5)  # one threshold: AUROC 0.5, AP = precision 0.5
    assert auroc_auprc(y, tied)[0][0] == 0.5
    assert auroc_auprc(y, tied)[1][0] == 0.5
    # ranks 0.9(+) 0.8(-) 0.7(+) 0.1(-): AP = (1/1 + 2/3) / 2; AUROC = 3/4
    auroc, auprc = auroc_auprc(y, np.array([[0.9], [0.8], [0.7], [0.1]]))
    assert auroc[0] == pytest.approx(0.75) and auprc[0] == pytest.approx((1 + 2 / 3) / 2)


def test_undefined_targets_are_nan_with_reason():
    y = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1], [0, 1, 0]], dtype=np.uint8)
    s = np.random.default_rng(0).random(y.shape)
    targets = pd.DataFrame(
        {"id": [0, 1, 2], "name": ["none", "all", "ok"], "class": ["TF", "DNase", "histone"]}
    )
    m = per_target_metrics(y, s, targets)
    assert m["auroc"].isna().tolist() == [True, True, False]
    assert m["auprc"].isna().tolist() == [True, True, False]
    assert "no positives" in m.loc[0, "note"] and "no negatives" in m.loc[1, "note"]
    assert m.loc[2, "note"].startswith("few positives")  # 2 positives: value kept, flagged
    assert m["n_pos"].tolist() == [0, 4, 2] and m["n_neg"].tolist() == [4, 0, 2]
    assert m["auprc_random"].tolist() == [0.0, 1.0, 0.5]


def test_no_windows_gives_nan():
    targets = pd.DataFrame({"id": [0], "name": ["a"], "class": ["TF"]})
    m = per_target_metrics(np.zeros((0, 1), np.uint8), np.zeros((0, 1)), targets)
    assert np.isnan(m.loc[0, "auroc"]) and m.loc[0, "note"] == "no test windows"


def test_reads_hdf5_columns_in_blocks(tmp_path):
    y, s = _random_case(5, n=300, t=20)
    with h5py.File(tmp_path / "p.h5", "w") as h5:
        h5.create_dataset("p", data=s, chunks=(100, 4))
        got = auroc_auprc(y, h5["p"], block=7)
    want = auroc_auprc(y, s)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_non_finite_scores_are_refused():
    y = np.array([[0], [1]])
    with pytest.raises(DanQError, match="NaN or infinite"):
        auroc_auprc(y, np.array([[np.nan], [0.5]]))


def test_summary_per_class_on_hand_made_table():
    m = pd.DataFrame(
        {
            "class": ["DNase", "DNase", "TF", "TF", "TF", "TF"],
            "auroc": [0.9, 0.7, 0.6, 0.8, 1.0, np.nan],
            "auprc": [0.5, 0.3, 0.1, 0.2, 0.6, np.nan],
            "auprc_random": [0.1, 0.1, 0.05, 0.05, 0.05, 0.0],
        }
    )
    s = summarize(m, ("auroc", "auprc", "auprc_random")).set_index("class")
    assert s.index.tolist() == ["DNase", "TF", "histone", "all"]
    assert s.loc["DNase", "mean_auroc"] == pytest.approx(0.8) and s.loc[
        "DNase", "median_auprc"
    ] == pytest.approx(0.4)
    assert s.loc["TF", "n_targets"] == 4 and s.loc["TF", "n_undefined"] == 1
    assert s.loc["TF", "median_auroc"] == pytest.approx(0.8) and s.loc[
        "TF", "mean_auprc"
    ] == pytest.approx(0.3)
    assert s.loc["TF", "mean_auprc_random"] == pytest.approx(
        0.05
    )  # the undefined target is left out
    assert s.loc["histone", "n_targets"] == 0 and np.isnan(s.loc["histone", "mean_auroc"])
    assert s.loc["all", "n_targets"] == 6 and s.loc["all", "n_undefined"] == 1
    assert s.loc["all", "median_auroc"] == pytest.approx(0.8) and s.loc[
        "all", "mean_auroc"
    ] == pytest.approx(0.8)
