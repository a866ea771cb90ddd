"""report: one self-contained HTML file, checked by parsing it (images embedded, every target a row)."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from eval_fixtures import tiny_setup
from matplotlib.figure import Figure

from danq_pipeline.cli import main
from danq_pipeline.errors import DanQError
from danq_pipeline.evaluate import evaluate_model
from danq_pipeline.figures import save_png
from danq_pipeline.report import write_report


class _Collect(HTMLParser):
    """Collect <img> attributes, external references and the rows of every table by id."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.external: list[str] = []
        self.rows: dict[str, int] = {}
        self.headers: dict[str, list[str]] = {}
        self._table: list[str] = []
        self._in_body = self._in_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        for key in ("src", "href"):
            if key in a and tag != "img" and not str(a[key]).startswith(("#", "data:")):
                self.external.append(a[key])
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.external.append(a.get("href") or a.get("src"))
        if tag == "table":
            self._table.append(a.get("id", f"table{len(self.rows)}"))
            self.rows[self._table[-1]] = 0
            self.headers[self._table[-1]] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows[self._table[-1]] += 1
        elif tag == "th":
            self._in_th = True

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table.pop()
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th and self._table:
            self.headers[self._table[-1]].append(data)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    paths = tiny_setup(tmp, n_test=80, n_train=200)
    ref = tmp / "ref.tsv"
    ref.write_text("name\tauroc\nt0\t0.8\nt1\t0.6\n")
    evaluate_model(
        paths["model"],
        paths["test"],
        tmp / "ev",
        train=paths["train"],
        reference=ref,
        top_n=4,
        progress=False,
        device="cpu",
    )
    return tmp


def _extras(tmp: Path) -> tuple[Path, Path, Path]:
    history = tmp / "history.tsv"
    history.write_text(
        "epoch\ttrain_loss\tvalid_loss\tvalid_mean_auroc\tvalid_mean_auprc\tseconds\tlr\n"
        "1\t0.60\t0.58\t0.61\t0.30\t12.0\t0.001\n2\t0.52\t0.55\t0.70\t0.36\t11.5\t0.001\n"
    )
    motifs = tmp / "motifs"
    (motifs / "logos").mkdir(parents=True, exist_ok=True)
    (motifs / "motif_matches.tsv").write_text(
        "filter\tn_sites\tbest_match_id\tbest_match_name\tpvalue\tevalue\n"
        "0\t120\tMA0139.1\tCTCF\t1e-9\t1e-6\n3\t40\tMA0035.4\tGATA1\t1e-4\t0.2\n"
    )
    for f in (0, 3):
        save_png(Figure(figsize=(2, 1)), motifs / "logos" / f"filter_{f}.png")
    variants = tmp / "variants.tsv"
    variants.write_text(
        "chrom\tpos\tid\tref\talt\tstatus\tmax_abs_diff\ttop_target\n"
        "chrT\t10\trs1\tA\tG\tok\t0.21\tt0\nchrT\t20\trs2\tC\tT\tok\t0.05\tt2\n"
        "chrT\t30\trs3\tA\tG\tref_mismatch\tNaN\t\n"
    )
    return history, motifs, variants


def test_html_is_self_contained_with_every_figure_and_target(evaluated):
    history, motifs, variants = _extras(evaluated)
    out = evaluated / "report.html"
    assert (
        main(
            [
                "report",
                "--evaluate-dir",
                str(evaluated / "ev"),
                "--out",
                str(out),
                "--history",
                str(history),
                "--motifs-dir",
                str(motifs),
                "--variants",
                str(variants),
                "--title",
                "tiny run",
            ]
        )
        == 0
    )
    page = _Collect()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.images and all(
        img["src"].startswith("data:image/png;base64,") for img in page.images
    )
    assert not page.external, f"references outside the file: {page.external}"
    alts = {img.get("alt") for img in page.images}
    figures = {p.stem for p in (evaluated / "ev" / "figures").glob("*.png")}
    assert figures == {
        "roc_curves",
        "pr_curves",
        "metric_distributions",
        "baseline_scatter",
        "reference_scatter",
    }
    assert (
        figures <= alts and "training curves" in alts and {"0", "3"} <= alts
    )  # motif logos by filter
    assert page.rows["targets"] == 5, "one table row per target"
    assert {"baseline_auroc", "baseline_auprc", "ref_auroc"} <= set(page.headers["targets"])
    assert page.rows["motifs"] == 2 and page.rows["history"] == 2
    assert "filter 0 ~ CTCF (E = 1e-06)" in out.read_text()
    html = out.read_text()
    assert "4 of 5 targets scored" in html and "DanQ is better on" in html
    assert (
        "ref_mismatch" in html and "rs1" in html and "tiny run" in html and "table.sortable" in html
    )


def test_report_without_extras_and_errors(evaluated, capsys):
    out = write_report(evaluated / "ev", evaluated / "plain.html")
    page = _Collect()
    page.feed(out.read_text())
    assert page.rows["targets"] == 5 and len(page.images) == 5
    assert (
        main(
            [
                "report",
                "--evaluate-dir",
                str(evaluated / "nope"),
                "--out",
                str(evaluated / "x.html"),
            ]
        )
        == 2
    )
    assert "metrics.tsv: not found" in capsys.readouterr().err
    with pytest.raises(DanQError, match="no such file"):
        write_report(evaluated / "ev", evaluated / "y.html", history=evaluated / "missing.tsv")
    bad = evaluated / "bad_variants.tsv"
    bad.write_text("chrom\tpos\nchrT\t1\n")
    with pytest.raises(DanQError, match="lacks columns"):
        write_report(evaluated / "ev", evaluated / "z.html", variants=(bad,))
    assert not (evaluated / "x.html").exists() and not (evaluated / "z.html").exists()


def test_motif_headline_says_whether_ctcf_was_learned() -> None:
    from danq_pipeline.report import motif_headline

    table = pd.DataFrame(
        {
            "filter": [3, 7, 9],
            "best_match_id": ["MA0139.1", "MA0004.1", "MA1929.2"],
            "best_match_name": ["CTCF", "Arnt", "CTCF"],
            "evalue": [1e-4, 0.5, 0.3],
            "significant": [True, False, False],
        }
    )
    text = motif_headline(table)
    assert text.startswith("1 of 3 filters match") and "filter 3 ~ CTCF" in text
    assert "Closest CTCF match: filter 3 (MA0139.1, E = 0.0001, significant)" in text
    assert "No filter's best match is CTCF" in motif_headline(table.iloc[[1]])


class _Cells(HTMLParser):
    """Cell texts of every table by id (tables without an id are 'table<n>'), and the class of
    the element around each table."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[list[str]]] = {}
        self.wrapper: dict[str, str] = {}
        self._stack: list[str] = []
        self._div: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div":
            self._div.append(a.get("class") or "")
        elif tag == "table":
            self._stack.append(a.get("id") or f"table{len(self.cells)}")
            self.cells[self._stack[-1]] = []
            self.wrapper[self._stack[-1]] = self._div[-1] if self._div else ""
        elif tag == "tr" and self._stack:
            self.cells[self._stack[-1]].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "div" and self._div:
            self._div.pop()
        elif tag == "table":
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self.cells[self._stack[-1]][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_empty_notes_settings_and_class_table_read_as_text(evaluated):
    """An empty note is an empty cell (not 'NaN'); the baseline setting reads as text, not JSON;
    the per-class table folds mean and median into one cell and scrolls instead of overflowing."""
    page = _Cells()
    page.feed(write_report(evaluated / "ev", evaluated / "cells.html").read_text())
    header, *rows = page.cells["targets"]
    notes = [r[header.index("note")] for r in rows]
    assert notes.count("") == 4 and "NaN" not in notes, notes
    assert notes[4].startswith("undefined: no positives")
    assert [r[header.index("auroc")] for r in rows][4] == "NaN", (
        "an undefined metric still says NaN"
    )
    settings = dict(r for r in page.cells["table0"][1:])
    assert not settings["baseline"].startswith("{") and '"' not in settings["baseline"]
    assert "k: 5; C: " in settings["baseline"] and "C_selection_auroc: (" in settings["baseline"]
    classes = page.cells["classes"]
    assert (
        classes[0][:3] == ["class", "n_targets", "n_undefined"]
        and "auroc mean / median" in classes[0]
    )
    assert len(classes[0]) <= 8 and page.wrapper["classes"] == "wide", classes[0]
    assert [r[0] for r in classes[1:]] == ["DNase", "TF", "histone", "all"]
    summary = pd.read_csv(evaluated / "ev" / "summary.tsv", sep="\t").set_index("class")
    auroc = dict((r[0], r[classes[0].index("auroc mean / median")]) for r in classes[1:])
    assert (
        auroc["all"]
        == f"{summary.loc['all', 'mean_auroc']:.4g} / {summary.loc['all', 'median_auroc']:.4g}"
    )


def test_top_level_help_names_what_evaluate_and_report_write(evaluated, capsys):
    """`danq --help` promises outputs per command: every one named for evaluate is in its output
    folder (it used to promise report.html, which `danq report` writes)."""
    with pytest.raises(SystemExit):
        main(["--help"])
    lines = {
        ln.split()[1]: ln.split("->", 1)[1]
        for ln in capsys.readouterr().out.splitlines()
        if ln.startswith("  danq ") and "->" in ln
    }
    promised = [w.strip().split()[0] for w in lines["evaluate"].split(",")]
    assert promised and all((evaluated / "ev" / name).exists() for name in promised), promised
    assert "report.html" not in lines["evaluate"] and "report.html" in lines["report"]


def test_importing_report_and_figures_changes_no_matplotlib_state(tool_env):
    """report.py writes HTML only: importing it (or figures.py) neither loads pyplot nor picks a
    backend, and evaluate does not import the report (test_architecture checks its source too)."""
    code = (
        "import sys, matplotlib; import danq_pipeline.evaluate; "
        "assert 'danq_pipeline.report' not in sys.modules, 'evaluate imports report'; "
        "import danq_pipeline.report, danq_pipeline.figures; "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot loaded'; "
        "assert matplotlib.rcParams._get_backend_or_none() is None, 'backend chosen'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=tool_env)
    assert run.returncode == 0, run.stderr[-2000:]
