"""Filter motifs: extraction of planted sites, MEME round trip, and JASPAR matching."""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pandas as pd
import pytest
import torch

from danq_pipeline.cli import main
from danq_pipeline.dataset import WindowsH5, WindowsWriter
from danq_pipeline.encode import decode, encode, one_hot
from danq_pipeline.errors import DanQError
from danq_pipeline.jaspar import load_jaspar
from danq_pipeline.model import build_model, save_checkpoint
from danq_pipeline.motifs import (
    PFM,
    best_matches,
    column_scores,
    filter_pfms,
    information_content,
    match_motifs,
    read_meme,
    reverse_complement_pfm,
    write_meme,
)
from danq_pipeline.targets import targets_frame

SITE = "TGACTCAT"  # planted 8-mer; the detector sits in kernel columns 5..12
L, N, K, AT = 120, 300, 19, 5


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


@pytest.fixture(scope="module")
def ctcf(jaspar):
    return next(m for m in jaspar if m.matrix_id.startswith("MA0139"))


def _windows(path, rng, site: str = SITE, every: int = 2, at: int = AT):
    """Random windows, every `every`-th with `site` planted where the whole kernel fits."""
    codes = rng.integers(0, 4, size=(N, L)).astype(np.uint8)
    for i in range(0, N, every):
        p = rng.integers(at, L - K + at)
        codes[i, p : p + len(site)] = encode(site)
    t = targets_frame(["a", "b"], ["TF", "DNase"])
    with WindowsWriter(path, window=L, targets=t, contigs=["chr1"], split="test") as w:
        w.append(codes, np.zeros((N, 2), np.uint8), np.zeros(N, np.int32), np.arange(N) * L)
    return codes, t


def _predictor(net, batch_size: int = 256):
    """A CPU predictor of a network built in the test."""
    from danq_pipeline.model import TrainedModel
    from danq_pipeline.predictor import as_predictor

    return as_predictor(TrainedModel(net, None, {}), device="cpu", batch_size=batch_size)


def _detector_model(site: str, t, at: int = AT):
    """Small DanQ whose filter 0 fires (activation 0.5) only on an exact `site` at columns AT..;
    every other filter never fires."""
    model = build_model("small", len(t), L)
    with torch.no_grad():
        w = torch.zeros_like(model.conv.weight)
        w[0, :, at : at + len(site)] = torch.from_numpy(2 * one_hot(encode(site)) - 1)
        model.conv.weight.copy_(w)
        model.conv.bias.fill_(-1.0)
        model.conv.bias[0] = -(len(site) - 0.5)
    return model


def test_extraction_recovers_the_planted_site_and_counts_it(tmp_path):
    codes, t = _windows(tmp_path / "w.h5", np.random.default_rng(0))
    found = filter_pfms(
        _predictor(_detector_model(SITE, t), batch_size=64), WindowsH5(tmp_path / "w.h5")
    )
    expected = sum(
        SITE in decode(c)[AT : L - K + AT + len(SITE)] for c in codes
    )  # sites inside the scan
    assert found.n_sites[0] == expected and expected >= N // 2
    assert found.n_sites[1:].sum() == 0
    pfm = found.pfms()[0].probs
    assert decode(pfm[:, AT : AT + len(SITE)].argmax(axis=0)) == SITE
    np.testing.assert_allclose(pfm[:, AT : AT + len(SITE)].max(axis=0), 1.0)
    assert found.counts[0].sum() == expected * K
    np.testing.assert_allclose(found.background.sum(), 1.0)


def test_max_windows_limits_the_scan(tmp_path):
    _, t = _windows(tmp_path / "w.h5", np.random.default_rng(1))
    found = filter_pfms(
        _predictor(_detector_model(SITE, t)), WindowsH5(tmp_path / "w.h5"), max_windows=10
    )
    assert found.n_windows == 10 and 5 <= found.n_sites[0] <= 10


def test_min_activation_keeps_only_strong_sites(tmp_path):
    # filter 0 scores +1 per matching base of SITE (no penalty), bias -0.5: almost every window
    # fires weakly; only windows with the full site reach the filter's maximum (8 - 0.5)
    codes, t = _windows(tmp_path / "w.h5", np.random.default_rng(6))
    model = _detector_model(SITE, t)
    with torch.no_grad():
        model.conv.weight[0] = model.conv.weight[0].clamp(min=0)
        model.conv.bias[0] = -0.5
    data = WindowsH5(tmp_path / "w.h5")
    loose = filter_pfms(_predictor(model), data)
    strict = filter_pfms(_predictor(model), data, min_activation=0.99)
    full = sum(SITE in decode(c)[AT : L - K + AT + len(SITE)] for c in codes)
    assert loose.n_sites[0] == N and strict.n_sites[0] == full
    assert decode(strict.pfms()[0].probs[:, AT : AT + len(SITE)].argmax(axis=0)) == SITE


def test_meme_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    motifs = [
        PFM(f"filter_{i}", rng.dirichlet(np.ones(4), size=w).T, n)
        for i, (w, n) in enumerate([(19, 120), (8, 0), (26, 7)])
    ]
    write_meme(tmp_path / "f.meme", motifs, background=np.array([0.3, 0.2, 0.2, 0.3]))
    back = read_meme(tmp_path / "f.meme")
    assert [m.name for m in back] == ["filter_0", "filter_1", "filter_2"]
    assert [m.n_sites for m in back] == [120, 0, 7]
    for a, b in zip(motifs, back, strict=True):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
    text = (tmp_path / "f.meme").read_text()
    assert text.startswith("MEME version 4") and "ALPHABET= ACGT" in text
    bad = tmp_path / "bad.meme"
    bad.write_text(
        "MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2 nsites= 3\n"
        "0.25 0.25 0.25 0.25\n0.5 0.5\n"
    )
    with pytest.raises(DanQError, match=r"bad.meme:\d+: motif m1"):
        read_meme(bad)


def _embed(rng, probs: np.ndarray, width: int = 19, at: int = 2) -> np.ndarray:
    """`probs` inside a width-`width` PFM with weakly informative random flanks."""
    out = rng.dirichlet(np.full(4, 3.0), size=width).T
    out[:, at : at + probs.shape[1]] = probs
    return out


def test_matcher_finds_planted_ctcf_on_both_strands_and_not_shuffled(jaspar, ctcf):
    rng = np.random.default_rng(3)
    queries = [PFM(f"random_{i}", rng.dirichlet(np.ones(4), size=19).T, 50) for i in range(20)]
    shuffled = ctcf.pfm[:, rng.permutation(ctcf.pfm.shape[1])]
    queries += [
        PFM("ctcf", _embed(rng, ctcf.pfm), 50),
        PFM("ctcf_rc", reverse_complement_pfm(_embed(rng, ctcf.pfm)), 50),
        PFM("ctcf_shuffled", _embed(rng, shuffled), 50),
    ]
    pairs = match_motifs(queries, jaspar)
    best = best_matches(pairs, queries).set_index(pd.Index([q.name for q in queries]))
    for name, strand in (("ctcf", "+"), ("ctcf_rc", "-")):
        row = best.loc[name]
        assert row.best_match_id == ctcf.matrix_id and row.strand == strand, row
        assert row.evalue < 1e-6 and row.significant and row.overlap == ctcf.pfm.shape[1]
        assert row.offset == 2 and row.pearson == pytest.approx(1.0)
    shuffled_vs_ctcf = pairs[
        (pairs["query"] == "ctcf_shuffled") & (pairs["target_id"] == ctcf.matrix_id)
    ]
    assert shuffled_vs_ctcf["evalue"].iloc[0] > 0.05
    assert not best.loc["ctcf_shuffled"].significant
    assert (
        best.loc[[f"random_{i}" for i in range(20)], "significant"].sum() <= 2
    )  # ~5% allowed by design


def test_pvalues_rank_closer_motifs_first(jaspar, ctcf):
    rng = np.random.default_rng(4)
    noisy = [
        PFM(f"noise_{s}", 0.5 * ctcf.pfm + 0.5 * rng.dirichlet(np.full(4, s), size=15).T, 10)
        for s in (0.3, 1.0)
    ]
    exact = PFM("exact", ctcf.pfm, 10)
    pairs = match_motifs([exact, *noisy], [ctcf] + list(jaspar[:50]))
    p = pairs[pairs["target_id"] == ctcf.matrix_id].set_index("query")["pvalue"]
    assert p["exact"] < min(p["noise_0.3"], p["noise_1.0"]) < 1e-3
    assert information_content(ctcf.pfm) > information_content(noisy[0].probs)


def test_cli_end_to_end_finds_a_ctcf_filter(tmp_path, ctcf):
    consensus = decode(ctcf.pfm.argmax(axis=0))
    rng = np.random.default_rng(5)
    _, t = _windows(tmp_path / "w.h5", rng, site=consensus, every=3, at=2)
    save_checkpoint(tmp_path / "m.pt", _detector_model(consensus, t, at=2), t)
    out = tmp_path / "motifs"
    assert (
        main(
            [
                "motifs",
                "--model",
                str(tmp_path / "m.pt"),
                "--data",
                str(tmp_path / "w.h5"),
                "--out-dir",
                str(out),
                "--top",
                "2",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    table = pd.read_csv(out / "motif_matches.tsv", sep="\t")
    top = table.iloc[0]
    assert top["filter"] == 0 and top["best_match_name"] == "CTCF" and bool(top["significant"])
    assert list(table.columns[:11]) == [
        "filter",
        "n_sites",
        "ic",
        "best_match_id",
        "best_match_name",
        "strand",
        "offset",
        "overlap",
        "pearson",
        "score",
        "pvalue",
    ]
    assert (table.loc[table["filter"] != 0, "n_sites"] == 0).all()
    assert len(read_meme(out / "filters.meme")) == 64
    assert (out / "logos" / "filter_0.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "logos.png").exists() and (out / "motif_matches_all.tsv").exists()


# ----------------------------------------------------------------------------- TOMTOM's statistic
# Oracle: TOMTOM's rules (Gupta et al. 2007; MEME 4.x tomtom with -dist pearson and complete
# scores) re-derived here one value at a time with np.corrcoef, statistics.median_low and
# exhaustive enumeration of target columns, independent of the vectorised matcher.


def _tomtom_ints(query: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Integer column scores (wq, C) by TOMTOM's rules, one pair at a time."""
    corr = np.array(
        [
            [np.corrcoef(qc, pc)[0, 1] if qc.std() > 0 and pc.std() > 0 else 0.0 for pc in pool]
            for qc in query.T
        ]
    )
    shifted = corr - np.array(
        [[statistics.median_low(row)] for row in corr]
    )  # C even: lower middle
    small, large = shifted.min(), shifted.max()
    offset = np.floor(large - 1 if large == small else small)  # TOMTOM: flat scores -> range 1
    scale = np.floor(100 / (large - offset))
    return np.floor((shifted - offset) * scale + 0.5).astype(int) - int(round(-offset * scale))


def _pool(targets: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(targets + [reverse_complement_pfm(t) for t in targets], axis=1).T


def test_column_scores_follow_tomtoms_rules():
    rng = np.random.default_rng(7)
    targets = [rng.dirichlet(np.full(4, 0.5), size=w).T for w in (4, 5, 6)]
    queries = np.stack([rng.dirichlet(np.full(4, 0.7), size=5).T for _ in range(3)])
    queries[1, :, 2] = 0.25  # a zero-variance column
    cols = column_scores(queries, _pool(targets))
    for q in range(3):
        expected = _tomtom_ints(queries[q], _pool(targets))
        np.testing.assert_array_equal(cols.scores[q], expected)
        np.testing.assert_allclose(cols.hist[q].sum(axis=1), 1.0)
        assert (
            cols.scores[q].max() + cols.zero[q] <= 100 and cols.scores[q].min() + cols.zero[q] >= 0
        )


def _brute_force(query: np.ndarray, targets: list[np.ndarray], min_overlap: int):
    """(p-value, offset, strand, overlap) of the best alignment of `query` with each target:
    every alignment scored directly; the null of each span of query columns by enumerating
    every tuple of pool columns; p = 1 - prod over offsets and strands of P(span sum < s)."""
    ints = _tomtom_ints(query, _pool(targets))
    wq, n_pool = ints.shape
    starts = np.cumsum([0] + [t.shape[1] for t in targets])

    def tail(a: int, b: int, s: int) -> float:
        sums = [
            sum(ints[a + i, c] for i, c in enumerate(cs))
            for cs in itertools.product(range(n_pool), repeat=b - a)
        ]
        return float(np.mean(np.array(sums) >= s))

    out = []
    for j, t in enumerate(targets):
        wt = t.shape[1]
        best = None
        for strand, first in (("+", starts[j]), ("-", starts[-1] + starts[j])):
            for off in range(wq - 1, -wt, -1):
                a, b = max(0, off), min(wq, off + wt)
                if b - a < min(min_overlap, wq, wt):
                    continue
                s = sum(ints[i, first + i - off] for i in range(a, b))
                if best is None or (s, b - a) > (best[0], best[3]):
                    best = (s, off, strand, b - a)
        s = best[0]
        none = np.prod(
            [(1 - tail(max(0, o), min(wq, o + wt), s)) ** 2 for o in range(-(wt - 1), wq)]
        )
        out.append((1 - none, best[1], best[2], best[3]))
    return out


def test_pvalues_and_alignments_equal_exhaustive_enumeration():
    rng = np.random.default_rng(8)
    targets = [rng.dirichlet(np.full(4, 0.4), size=w).T for w in (2, 3, 2)]
    queries = [
        PFM("q0", rng.dirichlet(np.full(4, 0.4), size=3).T),
        PFM("q1", reverse_complement_pfm(targets[1]) * 0.8 + 0.05),  # a near-copy on strand -
        PFM("q2", np.full((4, 3), 0.25)),
    ]  # uninformative: p = 1
    pairs = match_motifs(queries, [PFM(f"t{j}", t) for j, t in enumerate(targets)], min_overlap=2)
    for q in queries:
        got = pairs[pairs["query"] == q.name].set_index("target_id")
        for j, (p, off, strand, overlap) in enumerate(
            _brute_force(q.probs, targets, min_overlap=2)
        ):
            row = got.loc[f"t{j}"]
            assert row.pvalue == pytest.approx(p, rel=1e-9, abs=1e-15), (q.name, j)
            if q.name != "q2":  # q2: every alignment ties at 0
                assert (row.offset, row.strand, row.overlap) == (off, strand, overlap), (q.name, j)
    assert pairs.set_index(["query", "target_id"]).loc[("q1", "t1"), "strand"] == "-"
    assert (pairs.loc[pairs["query"] == "q2", "pvalue"] == 1.0).all()
