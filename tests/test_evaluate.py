"""evaluate: strand averaging, predictions file, metrics, baseline, reference tables, errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from eval_fixtures import (
    LENGTH,
    gc_windows,
    tiny_checkpoint,
    tiny_setup,
    tiny_targets,
    write_windows,
)
from sklearn.metrics import average_precision_score, roc_auc_score

from danq_pipeline.baseline import C_GRID, canonical_kmer_map, fit_kmer_baseline, kmer_spectrum
from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.encode import encode, reverse_complement_codes
from danq_pipeline.errors import DanQError
from danq_pipeline.evaluate import evaluate_model, iter_predictions, select_curve_targets
from danq_pipeline.model import load_model
from danq_pipeline.predictor import as_predictor
from danq_pipeline.reference import attach_reference, read_reference

PAPER = str(Path(__file__).resolve().parents[1] / "data" / "deepsea" / "danq_paper_aucs.tsv")


def _predict_all(model, path, rc_average=True, device="cpu", precision="fp32"):
    data = WindowsH5(path)
    out = np.full((len(data), len(model.targets)), np.nan, np.float32)
    half = len(data) // 2 if data.rc_pairs else 0
    predictor = as_predictor(
        model, device=device, rc_average=rc_average, precision=precision, batch_size=7
    )
    for a, b, p, partner in iter_predictions(predictor, data, block_rows=16, progress=False):
        out[a:b] = p
        if partner is not None:
            out[a + half : b + half] = partner
    return out


def test_rc_average_is_strand_symmetric(tmp_path, device):
    targets = tiny_targets()
    codes, labels = gc_windows(40, len(targets), seed=3)
    fwd = write_windows(tmp_path / "fwd.h5", codes, labels, targets)
    rev = write_windows(tmp_path / "rev.h5", reverse_complement_codes(codes), labels, targets)
    model = load_model(tiny_checkpoint(tmp_path / "m.pt", targets), device)
    both_f = _predict_all(model, fwd, device=device)
    np.testing.assert_allclose(
        both_f, _predict_all(model, rev, device=device), rtol=1e-5, atol=1e-6
    )
    single_f, single_r = (
        _predict_all(model, fwd, False, device),
        _predict_all(model, rev, False, device),
    )
    assert np.abs(single_f - single_r).max() > 1e-4, (
        "an untrained model is not strand-symmetric by itself"
    )
    np.testing.assert_allclose(both_f, (single_f + single_r) / 2, rtol=1e-5, atol=1e-6)
    bf16 = _predict_all(
        model, fwd, device=device, precision="bf16"
    )  # bf16 weights: close, not equal
    # measured on CPU (two initialisations of the small preset): max |bf16 - fp32| 1.5e-4 and 2.5e-4,
    # per-target spread of the predictions >= 5.2e-3, per-target correlation >= 0.9992. A bf16 path
    # that ignored its input (constant output) would be off by >= half the spread and uncorrelated.
    atol = 1e-3
    assert np.abs(bf16 - both_f).max() < atol
    assert (both_f.max(0) - both_f.min(0)).min() > 2 * atol, "a constant output could not pass"
    assert all(np.corrcoef(bf16[:, t], both_f[:, t])[0, 1] > 0.99 for t in range(both_f.shape[1]))


def test_rc_pairs_file_averages_each_window_with_its_partner(tmp_path):
    targets = tiny_targets()
    codes, labels = gc_windows(30, len(targets), seed=4)
    plain = write_windows(tmp_path / "plain.h5", codes, labels, targets)
    pairs = write_windows(tmp_path / "pairs.h5", codes, labels, targets, rc_pairs=True)
    model = load_model(tiny_checkpoint(tmp_path / "m.pt", targets), "cpu")
    p_pairs, p_plain = _predict_all(model, pairs), _predict_all(model, plain)
    np.testing.assert_allclose(p_pairs[:30], p_plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p_pairs[:30], p_pairs[30:])
    no_avg = _predict_all(model, pairs, rc_average=False)  # each row on its own strand
    np.testing.assert_allclose(
        no_avg[:30], _predict_all(model, plain, rc_average=False), rtol=1e-5, atol=1e-6
    )
    res = evaluate_model(
        tiny_checkpoint(tmp_path / "m.pt", targets),
        pairs,
        tmp_path / "ev",
        figures=False,
        progress=False,
        device="cpu",
    )
    assert (res.metrics["n_pos"] + res.metrics["n_neg"] == 30).all(), "each pair counts once"
    assert res.info["strand_mode"] == "rc_pairs partner average"


def test_evaluate_end_to_end(tmp_path):
    paths = tiny_setup(tmp_path)
    out = tmp_path / "ev"
    res = evaluate_model(
        paths["model"],
        paths["test"],
        out,
        train=paths["train"],
        top_n=4,
        progress=False,
        device="cpu",
    )
    m = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert (
        m.columns.tolist()[:10]
        == [
            "id",
            "name",
            "class",
            "n_pos",
            "n_neg",
            "auroc",
            "auprc",
            "auprc_random",
            "baseline_auroc",
            "baseline_auprc",
        ]
        and m.columns[-1] == "note"
    )
    assert len(m) == 5 and m["name"].tolist() == [f"t{i}" for i in range(5)]
    labels = WindowsH5(paths["test"]).labels()
    with h5py.File(out / "predictions.h5") as h5:
        probs, base = h5["probabilities"][:], h5["baseline"][:]
        assert (
            h5.attrs["format"] == "danq-predictions"
            and h5["targets/name"].asstr()[:].tolist() == m["name"].tolist()
        )
    assert probs.shape == labels.shape and ((probs > 0) & (probs < 1)).all()
    for t in range(4):
        assert m.loc[t, "auroc"] == pytest.approx(
            roc_auc_score(labels[:, t], probs[:, t]), abs=1e-6
        )
        assert m.loc[t, "auprc"] == pytest.approx(
            average_precision_score(labels[:, t], probs[:, t]), abs=1e-6
        )
        assert m.loc[t, "baseline_auroc"] == pytest.approx(
            roc_auc_score(labels[:, t], base[:, t]), abs=1e-6
        )
    assert np.isnan(m.loc[4, "auroc"]) and "no positives" in m.loc[4, "note"]
    assert m.loc[0, "baseline_auroc"] > 0.9, (
        "target 0 follows GC content, which 5-mer counts capture"
    )
    s = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert s.loc["all", "n_undefined"] == 1 and s.loc["TF", "n_targets"] == 3
    assert s.loc["all", "mean_auroc"] == pytest.approx(m["auroc"].mean())
    figs = {p.name for p in (out / "figures").iterdir()}
    for stem in ("roc_curves", "pr_curves", "metric_distributions", "baseline_scatter"):
        assert {f"{stem}.png", f"{stem}.svg"} <= figs
    info = json.loads((out / "run_info.json").read_text())
    assert info["baseline"]["k"] == 5 and info["n_scored_windows"] == 120 and res.info == info
    assert info["baseline"]["C"] in C_GRID and len(info["baseline"]["C_selection_auroc"]) >= 2
    assert not list(out.glob("*.part"))


def test_without_train_no_baseline_and_says_why(tmp_path):
    paths = tiny_setup(tmp_path, n_test=40)
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(paths["model"]),
                "--data",
                str(paths["test"]),
                "--out-dir",
                str(tmp_path / "ev"),
                "--no-figures",
                "--device",
                "cpu",
                "--no-rc-average",
            ]
        )
        == 0
    )
    m = pd.read_csv(tmp_path / "ev" / "metrics.tsv", sep="\t")
    assert m["baseline_auroc"].isna().all()
    info = json.loads((tmp_path / "ev" / "run_info.json").read_text())
    assert (
        "no training file" in info["baseline_missing_reason"]
        and info["strand_mode"] == "forward strand only"
    )


def test_user_errors_are_one_line(tmp_path, capsys):
    paths = tiny_setup(tmp_path, n_test=20, n_train=20)
    other = tiny_targets(4)
    write_windows(tmp_path / "four.h5", *gc_windows(20, 4, seed=0), other)
    write_windows(
        tmp_path / "long.h5", *gc_windows(20, 5, seed=0, length=LENGTH + 10), tiny_targets()
    )
    write_windows(
        tmp_path / "empty.h5",
        np.zeros((0, LENGTH), np.uint8),
        np.zeros((0, 5), np.uint8),
        tiny_targets(),
    )
    cases = [
        (["--data", str(tmp_path / "empty.h5")], "holds no windows"),
        (["--data", str(tmp_path / "four.h5")], "targets differ"),
        (["--data", str(tmp_path / "long.h5")], "bp windows"),
        (["--data", str(tmp_path / "missing.h5")], "no such file"),
        (["--data", str(paths["test"]), "--train", str(tmp_path / "four.h5")], "targets differ"),
        (
            ["--data", str(paths["test"]), "--reference", str(tmp_path / "nope.tsv")],
            "no such reference",
        ),
        (["--data", str(paths["test"]), "--reference", PAPER], "919 targets"),
    ]
    for extra, message in cases:
        rc = main(
            [
                "evaluate",
                "--model",
                str(paths["model"]),
                "--out-dir",
                str(tmp_path / "ev"),
                "--no-figures",
                "--device",
                "cpu",
                *extra,
            ]
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], (extra, err)
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "none.pt"),
                "--data",
                str(paths["test"]),
                "--out-dir",
                str(tmp_path / "ev"),
            ]
        )
        == 2
    )


def test_generic_reference_by_name_and_id(tmp_path):
    paths = tiny_setup(tmp_path, n_test=60, n_train=20)
    by_name = tmp_path / "ref_name.tsv"
    by_name.write_text("name\tauroc\tauprc\nt0\t0.9\t0.4\nt2\t0.5\tNA\nzzz\t0.7\t0.1\n")
    res = evaluate_model(
        paths["model"],
        paths["test"],
        tmp_path / "a",
        baseline=False,
        reference=by_name,
        figures=False,
        progress=False,
        device="cpu",
    )
    m = res.metrics
    assert m["ref_auroc"].tolist()[:3] == [0.9, pytest.approx(np.nan, nan_ok=True), 0.5]
    assert m.loc[0, "auroc_minus_ref"] == pytest.approx(m.loc[0, "auroc"] - 0.9)
    rs = res.reference_summary.set_index(["metric", "class"])
    assert (
        rs.loc[("auroc", "all"), "n_compared"] == 2 and rs.loc[("auprc", "all"), "n_compared"] == 1
    )
    by_id = tmp_path / "ref_id.tsv"
    by_id.write_text("id\tauroc\n3\t0.1\n1\t0.2\n")
    res = evaluate_model(
        paths["model"],
        paths["test"],
        tmp_path / "b",
        baseline=False,
        reference=by_id,
        figures=True,
        top_n=2,
        progress=False,
        device="cpu",
    )
    assert res.metrics["ref_auroc"].tolist()[:4] == [
        pytest.approx(np.nan, nan_ok=True),
        0.2,
        pytest.approx(np.nan, nan_ok=True),
        0.1,
    ]
    assert (res.metrics.loc[[1, 3], "auroc_minus_ref"] > 0.2).all()
    assert (tmp_path / "b" / "figures" / "reference_scatter.png").exists()
    bad = tmp_path / "bad.tsv"
    bad.write_text("target\tscore\nt0\t1\n")
    with pytest.raises(DanQError, match="lacks an id or name column"):
        evaluate_model(paths["model"], paths["test"], tmp_path / "c", reference=bad, progress=False)


def test_paper_reference_table(tmp_path):
    classes = ["DNase"] * 125 + ["TF"] * 690 + ["histone"] * 104
    targets = tiny_targets(919, tuple(classes))
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (24, LENGTH), dtype=np.uint8)
    labels = (rng.random((24, 919)) < 0.4).astype(np.uint8)
    test = write_windows(tmp_path / "test.h5", codes, labels, targets, rc_pairs=True)
    model = tiny_checkpoint(tmp_path / "m.pt", targets)
    res = evaluate_model(
        model, test, tmp_path / "ev", reference=PAPER, figures=False, progress=False, device="cpu"
    )
    paper = pd.read_csv(PAPER, sep="\t", keep_default_na=False)
    m = res.metrics
    assert m.loc[0, "paper_danq_auroc"] == pytest.approx(float(paper.loc[0, "DanQ ROC AUC"]))
    assert m.loc[918, "paper_deepsea_auprc"] == pytest.approx(
        float(paper.loc[918, "DeepSEA PR AUC"])
    )
    brf1 = int(
        np.flatnonzero((paper["TF/DNase/HistoneMark"] == "BRF1") & (paper["Cell Type"] == "K562"))[
            0
        ]
    )
    assert np.isnan(m.loc[brf1, "paper_danq_auroc"]), (
        "the paper's 'NA (No positive ...)' row is NaN"
    )
    assert m.loc[5, "auroc_minus_paper_danq"] == pytest.approx(
        m.loc[5, "auroc"] - m.loc[5, "paper_danq_auroc"]
    )
    rs = res.reference_summary.set_index(["metric", "reference", "class"])
    row = rs.loc[("auroc", "DanQ (paper)", "all")]
    assert row["n_compared"] == 918 - int(m["auroc"].isna().sum())
    assert row["median_reference"] == pytest.approx(
        0.9514, abs=2e-3
    )  # the paper's median (918 targets)
    assert 0 <= row["frac_ge"] <= row["frac_within"] <= 1
    assert set(rs.index.get_level_values("class")) == {"DNase", "TF", "histone", "all"}
    disk = pd.read_csv(tmp_path / "ev" / "metrics.tsv", sep="\t")
    assert "paper_danq_jaspar_auprc" in disk and "paper_label" in disk and len(disk) == 919


def test_paper_reference_checks_deepsea_order():
    paper = pd.read_csv(PAPER, sep="\t", keep_default_na=False, dtype=str)
    names = (
        paper["Cell Type"] + "|" + paper["TF/DNase/HistoneMark"] + "|" + paper["Treatment"]
    ).tolist()
    classes = ["DNase"] * 125 + ["TF"] * 690 + ["histone"] * 104
    m = pd.DataFrame(
        {"id": range(919), "name": names, "class": classes, "auroc": 0.9, "auprc": 0.3}
    )
    ref = read_reference(PAPER)
    assert (
        attach_reference(m, ref)["paper_label"].tolist() == names
    )  # the importer's cell|assay|treatment names
    swapped = m.copy()
    swapped.loc[[0, 1], "name"] = swapped.loc[[1, 0], "name"].to_numpy()
    with pytest.raises(DanQError, match="2 target names differ"):
        attach_reference(swapped, ref)
    with pytest.raises(DanQError, match="differ in class"):
        attach_reference(m.assign(**{"class": ["TF"] * 919}), ref)


def test_kmer_spectrum_hand_checked_and_strand_symmetric():
    col, n = canonical_kmer_map(2)
    assert n == 10  # 16 dinucleotides, 6 pairs with their reverse complement + 4 palindromes
    assert col[0] == col[15]  # AA ~ TT
    x = kmer_spectrum(encode("AACGN").reshape(1, -1), k=2)  # AA AC CG (GN skipped)
    assert x.sum() == pytest.approx(1.0) and (x > 0).sum() == 3
    codes = np.random.default_rng(0).integers(0, 5, (6, 50), dtype=np.uint8)
    np.testing.assert_allclose(kmer_spectrum(codes), kmer_spectrum(reverse_complement_codes(codes)))
    assert kmer_spectrum(codes).shape == (6, 512)


def test_baseline_subsample_cap(tmp_path):
    paths = tiny_setup(tmp_path, n_test=10, n_train=300)
    base = fit_kmer_baseline(WindowsH5(paths["train"]), k=4, max_train=100)
    assert base.n_train == 100 and base.coef.shape == (136, 5)
    assert base.fitted.tolist() == [True, True, True, True, False]


def test_curve_targets_all_when_few_else_best_and_worst():
    few = pd.DataFrame({"auroc": [0.7, np.nan, 0.9]})
    assert select_curve_targets(few, top_n=2) == [
        (2, ""),
        (0, ""),
    ]  # undefined targets have no curve
    many = pd.DataFrame({"auroc": np.r_[np.linspace(0.5, 0.99, 40), np.nan]})
    chosen = select_curve_targets(many, top_n=6)
    assert chosen == [
        (39, "best"),
        (38, "best"),
        (37, "best"),
        (2, "worst"),
        (1, "worst"),
        (0, "worst"),
    ]
