"""Every figure the package draws (matplotlib), and the atomic PNG/SVG writers.

Figures are plain `matplotlib.figure.Figure` objects, never pyplot's: nothing here picks a
backend or keeps a global figure list, so importing this module (or a module that imports
it) changes no matplotlib state, and a figure is freed when its last reference goes.
Saving renders through the Agg (PNG) or SVG canvas that `Figure.savefig` picks for the
file format, so drawing works on a machine without a display.

Who draws what: `evaluation_figures` (called by `danq evaluate`) writes ROC and PR curves as
small multiples, AUROC/AUPRC distributions per class, DanQ vs baseline and ours vs a
reference; `plot_history`, `plot_background_effects` and `plot_pvalue_qq` are drawn by
`report.py` into the page; `ism_heatmap`/`ism_logo` by `ism.py`; `motif_pair`/`motif_overview`
by `motifs.py`. This module imports no other part of the package but `encode` and `_io`,
so every stage may import it. No torch here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from danq_pipeline._io import atomic_path
from danq_pipeline.encode import ALPHABET

CLASS_COLORS = {"DNase": "#1f77b4", "TF": "#2ca02c", "histone": "#d62728"}
CLASS_ORDER = ("DNase", "TF", "histone")
DPI = 110


# ----------------------------------------------------------------------------- saving


def save_figure(fig: Figure, out_dir: Path, stem: str) -> str:
    """Save `fig` as out_dir/stem.png and .svg (each atomically); return `stem`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "svg"):
        with atomic_path(out_dir / f"{stem}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=DPI, bbox_inches="tight")
    return stem


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = DPI) -> None:
    """Save `fig` as one PNG atomically, after a tight layout."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def png_bytes(fig: Figure) -> bytes:
    """`fig` as PNG bytes (for a page that embeds its images)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _grid(n: int, max_cols: int = 4) -> tuple[Figure, np.ndarray]:
    cols = max(1, min(max_cols, n))
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(3.1 * cols, 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


# ----------------------------------------------------------------------------- evaluation


def plot_curves(curves: list[dict], kind: str) -> Figure:
    """Small multiples of ROC (`kind`="roc") or precision-recall ("pr") curves, one panel a target."""
    fig, axes = _grid(len(curves))
    for ax, c in zip(axes, curves, strict=False):
        for key, style, label in (
            ("probabilities", "-", "DanQ"),
            ("baseline", "--", "k-mer baseline"),
        ):
            if key not in c:
                continue
            d = c[key]
            x, y = (d["fpr"], d["tpr"]) if kind == "roc" else (d["recall"], d["precision"])
            ax.plot(
                x,
                y,
                style,
                color=CLASS_COLORS.get(c["class"], "k") if key == "probabilities" else "0.45",
                lw=1.3,
                label=label,
                drawstyle="default" if kind == "roc" else "steps-post",
            )
        if kind == "roc":
            ax.plot([0, 1], [0, 1], ":", color="0.7", lw=0.8)
            ax.set(xlabel="false positive rate", ylabel="true positive rate")
            score = f"AUROC {c['auroc']:.3f} (base {c['baseline_auroc']:.3f})"
        else:
            ax.axhline(c["positive_rate"], ls=":", color="0.7", lw=0.8)
            ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02))
            score = f"AUPRC {c['auprc']:.3f} (base {c['baseline_auprc']:.3f})"
        tag = f"[{c['group']}] " if c["group"] else ""
        ax.set_title(f"{tag}{c['name'][:28]} ({c['class']})\n{score}", fontsize=8)
        ax.tick_params(labelsize=7)
    if len(curves):
        axes[0].legend(fontsize=7, loc="lower right" if kind == "roc" else "upper right")
    what = "ROC" if kind == "roc" else "Precision-recall"
    fig.suptitle(f"{what} curves, per target (dotted: random)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_distributions(metrics: pd.DataFrame) -> Figure:
    """AUROC and AUPRC per class (box + points), DanQ beside the baseline."""
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    classes = [c for c in CLASS_ORDER if (metrics["class"] == c).any()]
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes, ("auroc", "auprc"), strict=True):
        for j, cls in enumerate(classes):
            sub = metrics[metrics["class"] == cls]
            for shift, col, color in (
                (-0.18, metric, CLASS_COLORS[cls]),
                (0.18, f"baseline_{metric}", "0.55"),
            ):
                vals = sub[col].dropna().to_numpy()
                if not len(vals):
                    continue
                ax.boxplot(
                    vals,
                    positions=[j + shift],
                    widths=0.3,
                    showfliers=False,
                    medianprops={"color": "k"},
                )
                ax.scatter(
                    j + shift + rng.uniform(-0.08, 0.08, len(vals)),
                    vals,
                    s=6,
                    color=color,
                    alpha=0.6,
                    zorder=3,
                )
        ax.set_xticks(
            range(len(classes)), [f"{c}\n(n={int((metrics['class'] == c).sum())})" for c in classes]
        )
        ax.set_ylabel(metric.upper())
        ax.set_title(
            f"{metric.upper()} by class: DanQ (colour) vs k-mer baseline (grey)", fontsize=9
        )
    fig.tight_layout()
    return fig


def plot_scatter(
    metrics: pd.DataFrame, pairs: list[tuple[str, str, str, str]], title: str
) -> Figure:
    """One panel per (x column, y column, x label, y label): points per target, coloured by class."""
    fig, axes = _grid(len(pairs), max_cols=3)
    for ax, (xc, yc, xl, yl) in zip(axes, pairs, strict=False):
        both = metrics[[xc, yc, "class"]].dropna()
        for cls in CLASS_ORDER:
            sub = both[both["class"] == cls]
            if len(sub):
                ax.scatter(
                    sub[xc],
                    sub[yc],
                    s=9,
                    alpha=0.7,
                    color=CLASS_COLORS[cls],
                    label=f"{cls} ({len(sub)})",
                )
        lo = float(np.nanmin(both[[xc, yc]].to_numpy())) if len(both) else 0.0
        ax.plot([lo, 1], [lo, 1], ":", color="0.5", lw=0.8)
        ax.set(xlabel=xl, ylabel=yl)
        above = float((both[yc] >= both[xc]).mean()) if len(both) else float("nan")
        ax.set_title(f"y \u2265 x for {above:.0%} of {len(both)} targets", fontsize=9)
        if len(both):
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def evaluation_figures(
    out_dir: Path, metrics: pd.DataFrame, curves: list[dict], ref: Any = None
) -> list[str]:
    """Draw every evaluation figure into `out_dir` (PNG + SVG); return their stems."""
    stems = []
    if curves:
        stems.append(save_figure(plot_curves(curves, "roc"), out_dir, "roc_curves"))
        stems.append(save_figure(plot_curves(curves, "pr"), out_dir, "pr_curves"))
    stems.append(save_figure(plot_distributions(metrics), out_dir, "metric_distributions"))
    if metrics["baseline_auroc"].notna().any():
        pairs = [
            ("baseline_auroc", "auroc", "k-mer baseline AUROC", "DanQ AUROC"),
            ("baseline_auprc", "auprc", "k-mer baseline AUPRC", "DanQ AUPRC"),
        ]
        stems.append(
            save_figure(
                plot_scatter(metrics, pairs, "DanQ vs k-mer baseline, per target"),
                out_dir,
                "baseline_scatter",
            )
        )
    if ref is not None:
        pairs = [
            (theirs, ours, f"{label} {ours.upper()}", f"ours {ours.upper()}")
            for ours, theirs, label in ref.comparisons
            if "jaspar" not in theirs
        ]
        stems.append(
            save_figure(
                plot_scatter(metrics, pairs, f"Ours vs reference ({ref.path.name}), per target"),
                out_dir,
                "reference_scatter",
            )
        )
    return stems


# ----------------------------------------------------------------------------- training and variants


def plot_history(history: pd.DataFrame) -> Figure:
    """Training curves: train/valid loss and validation mean AUROC/AUPRC per epoch."""
    fig = Figure(figsize=(9, 3.4))
    axes = fig.subplots(1, 2)
    for col, style in (("train_loss", "-o"), ("valid_loss", "-s")):
        if col in history:
            axes[0].plot(history["epoch"], history[col], style, ms=3, label=col)
    axes[0].set(xlabel="epoch", ylabel="loss (BCE)", title="Loss")
    for col, style in (("valid_mean_auroc", "-o"), ("valid_mean_auprc", "-s")):
        if col in history:
            axes[1].plot(history["epoch"], history[col], style, ms=3, label=col)
    axes[1].set(xlabel="epoch", title="Validation mean AUROC / AUPRC")
    for ax in axes:
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_background_effects(
    effects: np.ndarray, background: np.ndarray | None, measure: str
) -> Figure:
    """Histogram of log10 effect sizes (all targets pooled): scored alleles vs the background sample."""
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.subplots()
    floor = 1e-12  # an effect of exactly 0 is drawn at the floor

    def logs(x: np.ndarray) -> np.ndarray:
        x = x[~np.isnan(x)].ravel()
        return np.log10(np.maximum(x, floor))

    shown = [(logs(effects), "scored alleles", "#d62728")]
    if background is not None:
        shown.insert(0, (logs(background), "background", "0.5"))
    values = np.concatenate([v for v, _, _ in shown]) if shown else np.zeros(0)
    bins = np.linspace(values.min(), values.max() + 1e-9, 50) if len(values) else 10
    for v, label, color in shown:
        if len(v):
            ax.hist(
                v,
                bins=bins,
                density=True,
                histtype="step",
                lw=1.5,
                color=color,
                label=f"{label} ({len(v)})",
            )
    ax.set(
        xlabel=f"log10 effect ({measure}), all targets",
        ylabel="density",
        title="Effect sizes: scored alleles vs background",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_pvalue_qq(pvalues: np.ndarray, combined: np.ndarray) -> Figure:
    """QQ plot of -log10 p: per-target p-values (pooled) and combined p against uniform quantiles."""
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    top = 0.0
    for p, label, color in (
        (pvalues, "per-target p", "#1f77b4"),
        (combined, "combined_p", "#d62728"),
    ):
        p = np.sort(np.asarray(p, dtype=float)[~np.isnan(p)].ravel())
        if not len(p):
            continue
        expected = -np.log10((np.arange(1, len(p) + 1) - 0.5) / len(p))
        ax.plot(expected, -np.log10(p), ".", ms=3, color=color, label=f"{label} ({len(p)})")
        top = max(top, expected.max(), -np.log10(p).min(), -np.log10(p[0]))
    ax.plot([0, top], [0, top], ":", color="0.5", lw=0.8)
    ax.set(
        xlabel="expected -log10 p (uniform)",
        ylabel="observed -log10 p",
        title="p-values vs uniform",
    )
    if ax.lines[:-1]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- ISM


def _position_axes(axes: np.ndarray, chrom: str) -> None:
    for ax in axes:
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    axes[-1].set_xlabel(f"{chrom} position (0-based)")


def ism_heatmap(
    logodds: np.ndarray, positions: np.ndarray, chrom: str, titles: Sequence[str]
) -> Figure:
    """One 4 x S heatmap of the log odds ratio per drawn target (red: up, blue: down).

    `logodds` is (S, 4, D) for the D drawn targets, `positions` (S,) 0-based, one title each.
    """
    fig = Figure(figsize=(12, 1.6 * len(titles) + 0.6))
    axes = fig.subplots(len(titles), 1, squeeze=False)[:, 0]
    x0, x1 = positions[0] - 0.5, positions[-1] + 0.5
    for j, (ax, title) in enumerate(zip(axes, titles, strict=True)):
        lo = logodds[:, :, j].T
        vmax = max(float(np.nanmax(np.abs(lo))) if np.isfinite(lo).any() else 0.0, 1e-6)
        im = ax.imshow(
            lo,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            interpolation="nearest",
            extent=(x0, x1, 3.5, -0.5),
        )
        ax.set_yticks(range(4), list(ALPHABET))
        ax.set_title(title, fontsize=9, loc="left")
        fig.colorbar(im, ax=ax, label="log odds ratio", pad=0.01)
    _position_axes(axes, chrom)
    return fig


def ism_logo(
    importance: np.ndarray,
    ref_codes: np.ndarray,
    positions: np.ndarray,
    chrom: str,
    titles: Sequence[str],
) -> Figure:
    """Importance logo per drawn target: the reference base, as tall as its importance.

    `importance` is (S, D) for the D drawn targets, `ref_codes` (S,) base codes (N = 4: blank).
    """
    import logomaker

    fig = Figure(figsize=(12, 1.8 * len(titles) + 0.6))
    axes = fig.subplots(len(titles), 1, squeeze=False)[:, 0]
    ok = np.nonzero(ref_codes < 4)[0]
    for j, (ax, title) in enumerate(zip(axes, titles, strict=True)):
        mat = np.zeros((len(positions), 4))
        mat[ok, ref_codes[ok]] = importance[ok, j]
        logomaker.Logo(
            pd.DataFrame(mat, columns=list(ALPHABET), index=positions),
            ax=ax,
            color_scheme="classic",
            flip_below=False,
        )
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_ylabel("importance")
        ax.set_title(title, fontsize=9, loc="left")
    _position_axes(axes, chrom)
    return fig


# ----------------------------------------------------------------------------- motifs


def logo_axes(ax: Any, probs: np.ndarray, title: str, start: int = 0) -> None:
    """Draw an information-content logo of a (4, w) PFM on `ax`, its first column at x = `start`."""
    import logomaker
    from matplotlib.ticker import MaxNLocator

    df = pd.DataFrame(np.asarray(probs).T, columns=list(ALPHABET))
    df.index = np.arange(start, start + len(df))
    info = logomaker.transform_matrix(df, from_type="probability", to_type="information")
    logomaker.Logo(info, ax=ax, color_scheme="classic")
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9, loc="left")


def motif_pair(
    probs: np.ndarray,
    title: str,
    match: np.ndarray | None = None,
    match_title: str = "",
    offset: int = 0,
) -> Figure:
    """A filter's logo above its matched motif (`match`, a (4, w) PFM on the filter's strand,
    whose first column sits at filter column `offset`); the lower panel is blank without one."""
    fig = Figure(figsize=(max(6, probs.shape[1] * 0.35), 3.6))
    axes = fig.subplots(2, 1, sharex=True)
    logo_axes(axes[0], probs, title)
    if match is None:
        axes[1].set_axis_off()
    else:
        logo_axes(axes[1], match, match_title, start=offset)
    return fig


def motif_overview(logos: Sequence[tuple[np.ndarray, str]]) -> Figure:
    """One logo per row for each (PFM (4, w), title) pair; an empty panel when there are none."""
    n = max(len(logos), 1)
    fig = Figure(figsize=(7, 1.3 * n + 0.4))
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (probs, title) in zip(axes, logos, strict=False):
        logo_axes(ax, probs, title)
    return fig
