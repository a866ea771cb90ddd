"""One self-contained HTML report from the files the other steps wrote (HTML only).

`write_report` gathers an evaluation directory (plus optional training history, motif
matches and variant scores) into one HTML file with every image embedded as a data: URI and
a per-target table sortable with a few lines of plain JavaScript, so it opens offline and can
be mailed around. The figures it embeds are drawn in `danq_pipeline.figures` (the evaluation
figures by `danq evaluate`, read back here as PNG files). No torch here.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from danq_pipeline._io import ensure_writable, write_text
from danq_pipeline.errors import DanQError
from danq_pipeline.figures import plot_background_effects, plot_history, plot_pvalue_qq, png_bytes


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _fig_uri(fig: Any) -> str:
    return _data_uri(png_bytes(fig))


def _img(uri: str, alt: str, width: str = "") -> str:
    style = f' style="max-width:{width}"' if width else ""
    return f'<img src="{uri}" alt="{html.escape(alt)}"{style}>'


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "NaN" if np.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, table_id: str = "", sortable: bool = False) -> str:
    """An HTML table of `frame` (every row); `sortable` tables sort on a header click."""
    attrs = f' id="{table_id}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


FIGURE_CAPTIONS = {
    "roc_curves": "ROC curves per target (all targets when few, otherwise the best and worst by AUROC); "
    "solid: DanQ, dashed grey: k-mer baseline, dotted: random.",
    "pr_curves": "Precision-recall curves for the same targets; the dotted line is the positive rate "
    "(the AUPRC of a random ranking).",
    "metric_distributions": "AUROC and AUPRC of every target by class; DanQ in colour, the k-mer baseline in grey.",
    "baseline_scatter": "Per-target DanQ vs k-mer baseline; points above the diagonal are targets where DanQ "
    "adds to what short words predict.",
    "reference_scatter": "Per-target ours vs the reference table; points above the diagonal beat the reference.",
}

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1250px;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px}
th{background:#eee;position:sticky;top:0}table.sortable th{cursor:pointer}tbody tr:nth-child(even){background:#f8f8f8}
img{max-width:100%;display:block;margin:.5em 0}.cap{color:#555;font-size:13px;margin-bottom:1.5em}
.scroll{max-height:600px;overflow:auto;border:1px solid #ddd}.wide{overflow-x:auto}.note{color:#a40}"""

_SORT_JS = """document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.title='click to sort';th.addEventListener('click',function(){
  var b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.dir!=='asc';
  t.querySelectorAll('th').forEach(function(h){h.dataset.dir='';});th.dataset.dir=asc?'asc':'desc';
  function key(r){var s=r.cells[i].textContent,v=parseFloat(s);return (s.trim()!==''&&!isNaN(s)&&!isNaN(v))?v:s;}
  rows.sort(function(x,y){var a=key(x),c=key(y),na=typeof a==='number',nc=typeof c==='number';
   if(na&&nc)return asc?a-c:c-a;if(na)return -1;if(nc)return 1;
   if(a==='NaN')return 1;if(c==='NaN')return -1;return asc?String(a).localeCompare(c):String(c).localeCompare(a);});
  rows.forEach(function(r){b.appendChild(r);});});});});
document.querySelectorAll('input.filter').forEach(function(inp){inp.addEventListener('input',function(){
 var t=document.getElementById(inp.dataset.table),q=inp.value.toLowerCase();
 Array.from(t.tBodies[0].rows).forEach(function(r){r.style.display=r.textContent.toLowerCase().includes(q)?'':'none';});});});"""


TEXT_COLUMNS = ("note",)  # free text: an empty cell means nothing to say, never NaN


def _read_tsv(path: Path) -> pd.DataFrame:
    """A TSV with empty text cells as '' (pandas reads them as NaN, which the page would show)."""
    try:
        frame = pd.read_csv(path, sep="\t", keep_default_na=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DanQError(
            f"{path}: cannot read this TSV ({str(err).splitlines()[0]}); re-create it"
        ) from None
    for col in frame.columns:
        if col in TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return frame


def setting_text(value: Any, nested: bool = False) -> str:
    """A run setting as plain text, never raw JSON: a mapping as 'key: value; ...', one inside
    it as '(key: value, ...)'."""
    if isinstance(value, dict):
        text = ("; " if not nested else ", ").join(
            f"{k}: {setting_text(v, True)}" for k, v in value.items()
        )
        return f"({text})" if nested else text
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(v, True) for v in value)
    return str(value)


def class_table(summary: pd.DataFrame) -> pd.DataFrame:
    """summary.tsv folded for the page: one 'mean / median' cell per metric instead of two
    columns each (13 columns overflowed the page)."""
    out = summary[[c for c in summary.columns if not c.startswith(("mean_", "median_"))]].copy()
    for col in summary.columns:
        if col.startswith("mean_") and f"median_{col[5:]}" in summary:
            metric = col[5:]
            out[f"{metric} mean / median"] = [
                f"{_cell(a)} / {_cell(b)}"
                for a, b in zip(summary[col], summary[f"median_{metric}"], strict=True)
            ]
    return out


def headline(metrics: pd.DataFrame) -> str:
    """One plain sentence: targets scored, mean/median AUROC and AUPRC, and the baseline comparison."""
    ok = metrics[metrics["auroc"].notna()]
    text = (
        f"{len(ok)} of {len(metrics)} targets scored: mean AUROC {ok['auroc'].mean():.3f} "
        f"(median {ok['auroc'].median():.3f}), mean AUPRC {ok['auprc'].mean():.3f} "
        f"(random ranking {ok['auprc_random'].mean():.3f})."
    )
    both = ok[["auroc", "baseline_auroc"]].dropna()
    if len(both):
        wins = int((both["auroc"] > both["baseline_auroc"]).sum())
        text += (
            f" The k-mer baseline reaches mean AUROC {both['baseline_auroc'].mean():.3f}; DanQ is better "
            f"on {wins} of {len(both)} targets."
        )
    if len(ok) < len(metrics):
        text += f" {len(metrics) - len(ok)} targets are undefined (see note in the table)."
    return text


def _section_summary(eval_dir: Path, info: dict, metrics: pd.DataFrame) -> str:
    parts = ["<h2>Summary</h2>", f"<p><b>{html.escape(headline(metrics))}</b></p>"]
    if info:
        shown = {k: v for k, v in info.items() if k not in ("figures",) and v not in (None, "")}
        parts.append(
            html_table(
                pd.DataFrame(
                    {"setting": list(shown), "value": [setting_text(v) for v in shown.values()]}
                )
            )
        )
        if info.get("baseline_missing_reason"):
            parts.append(
                f'<p class="note">No baseline: {html.escape(info["baseline_missing_reason"])}.</p>'
            )
    parts.append("<h3>Per class (mean / median over targets with a defined metric)</h3>")
    parts.append(
        f'<div class="wide">{html_table(class_table(_read_tsv(eval_dir / "summary.tsv")), "classes")}</div>'
    )
    ref = eval_dir / "reference_summary.tsv"
    if ref.exists():
        parts.append(
            "<h3>Comparison with the reference table</h3><p class='cap'>median_diff: median over targets "
            "of ours minus reference; frac_ge: share of targets where ours &ge; reference; frac_within: "
            "share where ours &ge; reference - 0.01.</p>"
        )
        parts.append(f'<div class="wide">{html_table(_read_tsv(ref))}</div>')
    return "\n".join(parts)


def _section_figures(eval_dir: Path) -> str:
    fig_dir = eval_dir / "figures"
    pngs = sorted(fig_dir.glob("*.png")) if fig_dir.is_dir() else []
    order = {stem: i for i, stem in enumerate(FIGURE_CAPTIONS)}
    pngs.sort(key=lambda p: (order.get(p.stem, len(order)), p.stem))
    parts = ["<h2>Figures</h2>"]
    for png in pngs:
        parts.append(_img(_data_uri(png.read_bytes()), png.stem))
        parts.append(
            f'<div class="cap">{html.escape(FIGURE_CAPTIONS.get(png.stem, png.stem))} '
            f"(vector version: figures/{html.escape(png.stem)}.svg)</div>"
        )
    return "\n".join(parts)


def _section_targets(metrics: pd.DataFrame) -> str:
    return (
        "<h2>Every target</h2><p class='cap'>Click a column header to sort; type to filter. auprc_random is "
        "the AUPRC of a random ranking (the positive rate); NaN means undefined, with the reason in note.</p>"
        '<input class="filter" data-table="targets" placeholder="filter rows...">'
        f'<div class="scroll">{html_table(metrics, "targets", sortable=True)}</div>'
    )


def _section_history(history: Path) -> str:
    frame = _read_tsv(history)
    if "epoch" not in frame or not len(frame):
        raise DanQError(
            f"{history}: no 'epoch' column or no rows; give the history.tsv written by `danq train`"
        )
    return (
        "<h2>Training</h2>"
        + _img(_fig_uri(plot_history(frame)), "training curves")
        + f"<div class='cap'>From {html.escape(history.name)} ({len(frame)} epochs).</div>"
        + f"<div class='scroll'>{html_table(frame, 'history', sortable=True)}</div>"
    )


MAX_LOGOS = 48


def _logo_for(logos: dict[str, Path], filt: Any) -> Path | None:
    """The logo whose file stem ends in the filter number (filter_7.png, f007.png, 7.png)."""
    digits = "".join(ch for ch in str(filt) if ch.isdigit())
    if not digits:
        return None
    for stem, path in logos.items():
        tail = stem[len(stem.rstrip("0123456789")) :]
        if tail and int(tail) == int(digits):
            return path
    return None


def _section_motifs(motifs_dir: Path) -> str:
    table_path = motifs_dir / "motif_matches.tsv"
    if not table_path.exists():
        return f"<h2>Motifs</h2><p class='note'>{html.escape(str(table_path))} not found; no motif section.</p>"
    table = _read_tsv(table_path)
    if "evalue" in table:
        table = table.sort_values("evalue", kind="stable")
    logos = (
        {p.stem: p for p in sorted((motifs_dir / "logos").glob("*.png"))}
        if (motifs_dir / "logos").is_dir()
        else {}
    )
    parts = [
        "<h2>Motifs learned by the convolution filters</h2>",
        "<p class='cap'>Filters matched against JASPAR (best match, p- and E-value); sorted by E-value.</p>",
        f"<p>{html.escape(motif_headline(table))}</p>",
        f"<div class='scroll'>{html_table(table, 'motifs', sortable=True)}</div>",
    ]
    shown = [(row, _logo_for(logos, row.get("filter"))) for row in table.to_dict("records")]
    shown = [(r, p) for r, p in shown if p is not None][:MAX_LOGOS]
    if not shown:
        shown = [({"filter": p.stem}, p) for p in list(logos.values())[:MAX_LOGOS]]
    for row, path in shown:
        filt = str(row.get("filter"))
        match = (
            f" ~ {row['best_match_name']}" if pd.notna(row.get("best_match_name", np.nan)) else ""
        )
        evalue = (
            f" (E = {row['evalue']:.2g})" if isinstance(row.get("evalue"), (int, float)) else ""
        )
        parts.append(
            f"<figure style='display:inline-block;width:300px;margin:4px'>{_img(_data_uri(path.read_bytes()), filt)}"
            f"<figcaption class='cap'>filter {html.escape(filt + match + evalue)}</figcaption></figure>"
        )
    overview = motifs_dir / "logos.png"
    if overview.exists():
        parts.append(_img(_data_uri(overview.read_bytes()), "motif logos overview"))
        parts.append(
            "<div class='cap'>All matched filters aligned to their JASPAR motifs (logos.png).</div>"
        )
    return "\n".join(parts)


def motif_headline(table: pd.DataFrame, motif: str = "CTCF") -> str:
    """One sentence: how many filters match JASPAR significantly, and whether `motif` is among them."""
    if "significant" not in table or "best_match_name" not in table:
        return ""
    sig = table[table["significant"].astype(str).str.lower() == "true"]
    names = ", ".join(
        f"filter {r['filter']} ~ {r['best_match_name']}" for r in sig.head(8).to_dict("records")
    )
    text = f"{len(sig)} of {len(table)} filters match a JASPAR motif significantly" + (
        f" ({names})." if names else "."
    )
    hits = table[table["best_match_name"].astype(str).str.upper() == motif.upper()]
    if hits.empty:
        return text + f" No filter's best match is {motif}."
    best = hits.sort_values("evalue").iloc[0]
    verdict = "significant" if str(best["significant"]).lower() == "true" else "not significant"
    return (
        text
        + f" Closest {motif} match: filter {best['filter']} ({best['best_match_id']}, E = {best['evalue']:.2g}, {verdict})."
    )


MODISCO_COLUMNS = (
    "pattern",
    "metacluster",
    "n_seqlets",
    "width",
    "ic",
    "best_match_name",
    "best_match_id",
    "evalue",
    "significant",
    "second_match_name",
)


def _section_modisco(dirs: list[Path]) -> str:
    """Patterns TF-MoDISco found in each target's attribution maps, their best JASPAR match and
    support (seqlets), with their logos; a target whose patterns.tsv is missing is named, not shown."""
    parts = [
        "<h2>Motifs discovered from attributions (TF-MoDISco)</h2>",
        "<p class='cap'>Per target: patterns found by modisco-lite in the expected-gradient maps of its "
        "positive windows (pos: raise the prediction, neg: lower it), support = seqlets, and the best "
        "JASPAR match by TOMTOM's statistic (significant: E &lt; 0.05).</p>",
    ]
    for d in dirs:
        table_path = d / "patterns.tsv"
        if not table_path.exists():
            parts.append(f"<p class='note'>{html.escape(str(table_path))} not found.</p>")
            continue
        table = _read_tsv(table_path)
        target = str(table["target"].iloc[0]) if len(table) and "target" in table else d.name
        n_win = (
            f", {int(table['n_windows'].iloc[0])} windows"
            if len(table) and "n_windows" in table
            else ""
        )
        parts.append(f"<h3>{html.escape(target)}: {len(table)} patterns{n_win}</h3>")
        if not len(table):
            continue
        parts.append(
            f"<div class='scroll'>{html_table(table[[c for c in MODISCO_COLUMNS if c in table]])}</div>"
        )
        for row in table.head(MAX_LOGOS).to_dict("records"):
            logo = d / "logos" / f"{row['pattern']}.png"
            if logo.exists():
                parts.append(
                    f"<figure style='display:inline-block;width:300px;margin:4px'>"
                    f"{_img(_data_uri(logo.read_bytes()), str(row['pattern']))}<figcaption class='cap'>"
                    f"{html.escape(str(row['pattern']))} ({row['n_seqlets']} seqlets)</figcaption></figure>"
                )
    return "\n".join(parts)


def _section_variants(paths: list[Path], top: int = 20) -> str:
    parts = ["<h2>Variant effects</h2>"]
    for path in paths:
        frame = _read_tsv(path)
        missing = [c for c in ("status", "max_abs_diff") if c not in frame]
        if missing:
            raise DanQError(
                f"{path}: variant table lacks columns {missing}; give the .tsv from `danq score-variants`"
            )
        counts = frame["status"].value_counts().rename_axis("status").reset_index(name="n")
        best = frame.sort_values(
            "max_abs_diff", ascending=False, kind="stable", na_position="last"
        ).head(top)
        parts += [
            f"<h3>{html.escape(path.name)} ({len(frame)} records)</h3>",
            html_table(counts),
            f"<p class='cap'>Top {len(best)} by largest absolute change in any target's probability "
            "(max_abs_diff):</p>",
            f"<div class='scroll'>{html_table(best)}</div>",
        ]
        h5 = path.with_suffix(".h5")
        if "combined_p" in frame and h5.exists():
            parts.append(_section_significance(frame, h5, top))
    return "\n".join(parts)


def _section_significance(frame: pd.DataFrame, h5_path: Path, top: int) -> str:
    """Effects against the background (--background runs): effect histograms, p-value QQ plot, top table."""
    from danq_pipeline.background import effect_size, read_background
    from danq_pipeline.variant_io import read_variant_scores

    scores = read_variant_scores(h5_path)
    attrs = scores["attrs"]
    ok = scores["table"]["status"].to_numpy() == "ok"
    p, combined = scores["pvalue"][ok], scores["table"]["combined_p"].to_numpy()[ok]
    measure = str(attrs.get("background_measure", "diff_x_logodds"))
    effects = effect_size(scores["diff"][ok], scores["logodds"][ok], measure)
    bg_path = Path(str(attrs.get("background", "")))
    bg_effects = read_background(bg_path).sample if bg_path.is_file() else None
    pooled = p[~np.isnan(p)]
    text = (
        (
            f"Against the background {html.escape(bg_path.name)} ({attrs.get('background_n')} alleles, effect "
            f"{html.escape(measure)}): {(pooled <= 0.05).mean():.1%} of per-target p-values are &le; 0.05 and "
            f"{(pooled <= 0.01).mean():.1%} &le; 0.01 (uniform: 5% and 1%); {int((combined <= 0.01).sum())} of "
            f"{len(combined)} alleles have combined_p &le; 0.01."
        )
        if len(pooled)
        else "No scored allele."
    )
    parts = [
        f"<h4>Significance against the background</h4><p>{text}</p>",
        _img(
            _fig_uri(plot_background_effects(effects, bg_effects, measure)), "effects vs background"
        ),
        "<div class='cap'>Effect sizes of the scored alleles (all targets pooled) against the background's "
        "sampled alleles; the background file is read from the path recorded in the HDF5.</div>"
        if bg_effects is not None
        else f"<p class='note'>{html.escape(str(bg_path))} not found: the effect histogram shows the scored "
        "alleles only.</p>",
        _img(_fig_uri(plot_pvalue_qq(p, combined)), "p-value QQ plot"),
        "<div class='cap'>QQ plot of the p-values: observed against uniform quantiles (-log10). Alleles "
        "like the background lie on the diagonal; unusual effects rise above it at the right.</div>",
    ]
    if len(frame):
        best = frame.sort_values("combined_p", kind="stable", na_position="last").head(top)
        parts += [
            f"<p class='cap'>Top {len(best)} by combined_p:</p>",
            f"<div class='scroll'>{html_table(best)}</div>",
        ]
    return "\n".join(parts)


def write_report(
    evaluate_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    history: str | os.PathLike | None = None,
    motifs_dir: str | os.PathLike | None = None,
    variants: tuple[str | os.PathLike, ...] = (),
    modisco_dirs: tuple[str | os.PathLike, ...] = (),
    title: str = "danq-pipeline report",
) -> Path:
    """Write one self-contained HTML report from an evaluation directory (and optional extras).

    Everything (figures, logos, training curves) is embedded as data: URIs, so the file
    opens offline. Returns the path written (temporary name, then renamed).
    """
    ensure_writable(out, "out")
    eval_dir = Path(evaluate_dir)
    for need in ("metrics.tsv", "summary.tsv"):
        if not (eval_dir / need).exists():
            raise DanQError(
                f"{eval_dir / need}: not found; run `danq evaluate --out-dir {eval_dir}` first"
            )
    for extra in [history, *variants]:
        if extra is not None and not Path(extra).exists():
            raise DanQError(f"{extra}: no such file; check the --history/--variants path")
    if motifs_dir is not None and not Path(motifs_dir).is_dir():
        raise DanQError(
            f"{motifs_dir}: no such directory (give the `danq motifs` output directory)"
        )
    info_path = eval_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    metrics = _read_tsv(eval_dir / "metrics.tsv")
    sections = [_section_summary(eval_dir, info, metrics)]
    if history is not None:
        sections.append(_section_history(Path(history)))
    sections += [_section_figures(eval_dir), _section_targets(metrics)]
    if motifs_dir is not None:
        sections.append(_section_motifs(Path(motifs_dir)))
    if modisco_dirs:
        sections.append(_section_modisco([Path(d) for d in modisco_dirs]))
    if variants:
        sections.append(_section_variants([Path(v) for v in variants]))
    doc = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(sections)
        + f"\n<script>{_SORT_JS}</script></body></html>\n"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, doc)
    return out
