"""Per-base attribution maps that work through the whole network (conv, BiLSTM, dense).

Two methods, both computed on a target's *logit*:

* ``expected_gradients`` (the default): integrated gradients (captum's `IntegratedGradients`,
  Gauss-Legendre steps) from each of ``n_shuffles`` dinucleotide-shuffled copies of the window
  to the window, averaged over the copies -- DeepSHAP/BPNet's choice of reference, because a
  shuffled window keeps the base and dinucleotide composition (GC, CpG) and so asks "what do the
  *arrangements* of bases add". Per reference r and path-averaged gradient G (4, L):
  the hypothetical contribution of base b at position i is ``G[b, i] - sum_j r[j, i] G[j, i]``
  (what the base would contribute were it there, TF-MoDISco's `hypothetical_contribs`); the
  actual map is that at the window's own base, so it sums to exactly captum's attributions.
* ``grad_x_input``: gradient x input (reference: the all-zero input, so the hypothetical
  contribution of base b is the gradient ``G[b, i]``; as captum's `InputXGradient`, computed
  here with one forward pass for all targets). It is not complete for a non-linear network,
  and its completeness error says by how much.

Completeness: for each map, ``error = sum(map) - (f(x) - mean_r f(r))`` in logit units; a map
is flagged when ``|error| > tolerance * max(1, |f(x) - mean_r f(r)|)`` (default tolerance 0.05:
5 % of the explained difference, or 0.05 logit for small ones). Integrated gradients meets it
with enough steps (``n_steps``); flagged maps say to raise it.

Positions whose base is N have no hypothetical contribution (all-zero column); their share is
left out of the map (and shows up in the completeness error, windows with N are rare).

`write_attributions` streams batches into an HDF5 file (see docs/formats.md, "danq-attributions"),
so memory stays bounded by one batch whatever the number of windows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from danq_pipeline import _io
from danq_pipeline.encode import ALPHABET, N_CODE, one_hot
from danq_pipeline.errors import DanQError

METHODS = ("expected_gradients", "grad_x_input")
FORMAT = "danq-attributions"
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- references


def dinuc_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random shuffle of a code sequence (L,) that keeps every dinucleotide count.

    Altschul & Erickson's (1985) Euler-path construction as DeepLIFT's `dinuc_shuffle` does it:
    for each symbol, the list of symbols that follow it is permuted except its last entry, then
    the sequence is rebuilt by walking these lists from the first symbol. Keeping each symbol's
    last successor keeps the walk an Euler path, so the result has the same first and last
    symbol and the same count of every ordered pair (N counts as a fifth symbol). Deterministic
    for a given `rng` state.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if len(codes) < 3:
        return codes.copy()
    nxt = codes[1:]
    order: list[np.ndarray] = []
    for sym in range(N_CODE + 1):
        succ = nxt[codes[:-1] == sym]
        if len(succ) > 1:
            succ = np.concatenate([rng.permutation(succ[:-1]), succ[-1:]])
        order.append(succ)
    used = np.zeros(N_CODE + 1, dtype=np.int64)
    out = np.empty_like(codes)
    out[0] = codes[0]
    for i in range(1, len(codes)):
        prev = out[i - 1]
        out[i] = order[prev][used[prev]]
        used[prev] += 1
    return out


def shuffled_references(codes: np.ndarray, n_shuffles: int, seed: int) -> np.ndarray:
    """`n_shuffles` dinucleotide shuffles of each window: codes (B, L) -> (B, n_shuffles, L).

    The generator of window k is seeded with (seed, k-th code checksum), so a window gets the
    same references in any batch and in any order.
    """
    out = np.empty((len(codes), n_shuffles, codes.shape[1]), dtype=np.uint8)
    for k, row in enumerate(codes):
        rng = np.random.default_rng(
            [seed, int(np.dot(row.astype(np.int64), np.arange(1, len(row) + 1)))]
        )
        for s in range(n_shuffles):
            out[k, s] = dinuc_shuffle(row, rng)
    return out


# ----------------------------------------------------------------------------- attributions


class Attributions(NamedTuple):
    """Attributions of B windows for T targets.

    contrib (T, B, 4, L): the map (non-zero only at each window's own base);
    hypothetical (T, B, 4, L): TF-MoDISco's hypothetical contributions;
    logit (T, B): f(x); ref_logit (T, B): mean f(reference); error (T, B): completeness error.
    """

    contrib: np.ndarray
    hypothetical: np.ndarray
    logit: np.ndarray
    ref_logit: np.ndarray
    error: np.ndarray


def attribute_batch(
    net,
    codes: np.ndarray,
    target_index: np.ndarray,
    *,
    method: str = "expected_gradients",
    n_shuffles: int = 10,
    n_steps: int = 16,
    seed: int = 0,
    chunk: int = 1024,
    device=None,
) -> Attributions:
    """Attribution maps of windows `codes` (B, L) for the target columns `target_index`.

    This is the one place that runs the network for attributions (gradients are needed, so
    it does not go through the inference path). `chunk` bounds the forward/backward batch:
    at most `chunk` interpolated windows go through the network at once.

    Parameters
    ----------
    net : torch.nn.Module
        Maps one-hot (N, 4, L) to logits (N, T_model).
    codes : numpy.ndarray, shape=(B, L), dtype=uint8
    target_index : numpy.ndarray
        Model output columns to explain.
    method, n_shuffles, n_steps, seed
        See the module docstring; `n_shuffles` and `n_steps` apply to expected_gradients.
    """
    import torch

    from danq_pipeline._device import resolve_device

    if method not in METHODS:
        raise DanQError(
            f"`method`: unknown method {method!r}; choose one of {', '.join(METHODS)}",
            params="method",
        )
    dev = resolve_device(device)
    net = _prepare_net(net, dev)
    x = torch.from_numpy(one_hot(codes)).to(dev)  # (B, 4, L)
    if method == "grad_x_input":
        refs = torch.zeros_like(x)[:, None]  # (B, 1, 4, L)
        grads, logit = _gradients(net, x, target_index, chunk)
        grads = grads[:, :, None]
    else:
        refs = torch.from_numpy(one_hot(shuffled_references(codes, n_shuffles, seed))).to(dev)
        grads = torch.stack(
            [_path_gradients(net, x, refs, int(t), n_steps, chunk) for t in target_index]
        )
        logit = _logits(net, x, chunk)[:, target_index].T  # (T, B)
    # grads (T, B, S, 4, L): per reference the gradient averaged along the path
    hyp = (grads - (refs[None] * grads).sum(dim=3, keepdim=True)).mean(dim=2)  # (T, B, 4, L)
    contrib = hyp * x[None]
    b, s = refs.shape[:2]
    ref_logit = _logits(net, refs.reshape(b * s, *x.shape[1:]), chunk)[:, target_index]
    ref_logit = ref_logit.reshape(b, s, -1).mean(axis=1).T
    hyp_np, contrib_np = hyp.cpu().numpy(), contrib.cpu().numpy()
    net.eval()  # undo _prepare_net's RNN mode
    error = contrib_np.sum(axis=(2, 3)) - (logit - ref_logit)
    return Attributions(contrib_np, hyp_np, logit, ref_logit, error)


def _prepare_net(net, dev):
    """Eval mode on `dev`; on CUDA, recurrent layers in training mode because cuDNN runs an RNN
    backward pass only in that mode (identical for a one-layer LSTM: its dropout acts between
    layers only)."""
    import torch

    net = net.to(dev).eval()
    if dev.type == "cuda":
        for m in net.modules():
            if isinstance(m, torch.nn.RNNBase) and (m.num_layers == 1 or m.dropout == 0):
                m.train()
    return net


def _path_gradients(net, x, refs, target: int, n_steps: int, chunk: int):
    """Integrated gradients without the final multiplication (captum, ``multiply_by_inputs=False``):
    the Gauss-Legendre average of the gradient on the straight path from each reference to x.
    x (B, 4, L), refs (B, S, 4, L) -> (B, S, 4, L); at most `chunk` path points per pass."""
    import torch
    from captum.attr import IntegratedGradients

    b, s = refs.shape[:2]
    inputs = x[:, None].expand(-1, s, -1, -1).reshape(b * s, *x.shape[1:])
    base = refs.reshape(b * s, *x.shape[1:])
    ig = IntegratedGradients(net, multiply_by_inputs=False)
    step = max(1, chunk // n_steps)
    g = torch.cat(
        [
            ig.attribute(
                inputs[a : a + step],
                baselines=base[a : a + step],
                target=target,
                n_steps=n_steps,
                internal_batch_size=len(inputs[a : a + step]) * n_steps,
            ).detach()
            for a in range(0, b * s, step)
        ]
    )
    return g.reshape(b, s, *x.shape[1:])


def _gradients(net, x, target_index: np.ndarray, chunk: int):
    """d logit_t / d x at x for every target t, from one forward pass per chunk (one backward
    per target): gradients (T, B, 4, L) and logits (T, B)."""
    import torch

    grads, logits = [], []
    for a in range(0, len(x), chunk):
        xi = x[a : a + chunk].clone().requires_grad_()
        out = net(xi)
        logits.append(out.detach()[:, target_index].float().cpu().numpy().T)
        grads.append(
            torch.stack(
                [
                    torch.autograd.grad(
                        out[:, int(t)].sum(), xi, retain_graph=k < len(target_index) - 1
                    )[0]
                    for k, t in enumerate(target_index)
                ]
            )
        )
    return torch.cat(grads, dim=1), np.concatenate(logits, axis=1)


def _logits(net, x, chunk: int) -> np.ndarray:
    """Logits (N, T_model) in chunks, without gradients."""
    import torch

    with torch.no_grad():
        return (
            torch.cat([net(x[a : a + chunk]).float() for a in range(0, len(x), chunk)])
            .cpu()
            .numpy()
        )


def flagged(att: Attributions, tolerance: float) -> np.ndarray:
    """Maps whose completeness error exceeds `tolerance` x max(1, |f(x) - mean f(r)|): (T, B) bool."""
    return np.abs(att.error) > tolerance * np.maximum(1.0, np.abs(att.logit - att.ref_logit))


def ism_agreement(
    net, codes: np.ndarray, contrib: np.ndarray, target: int, *, chunk: int = 1024, device=None
) -> np.ndarray:
    """Per-window Pearson correlation between a map (N, 4, L) summed over bases and the ISM
    importance of each base (minus the mean logit change of its 3 substitutions, as
    `ism.importance`); N positions are left out. Returns (N,) correlations."""
    import torch

    from danq_pipeline._device import resolve_device
    from danq_pipeline.ism import mutants

    dev = resolve_device(device)
    net = net.to(dev).eval()
    out = np.full(len(codes), np.nan)
    for k, row in enumerate(codes):
        pos, alt = mutants(row, (0, len(row)))
        windows = np.repeat(row[None], len(pos) + 1, axis=0)
        windows[np.arange(1, len(pos) + 1), pos] = alt
        x = torch.from_numpy(one_hot(windows)).to(dev)
        logit = _logits(net, x, chunk)[:, target]
        effect = np.zeros(len(row))
        np.add.at(effect, pos, (logit[0] - logit[1:]) / 3.0)
        ok = row < N_CODE
        out[k] = np.corrcoef(contrib[k].sum(axis=0)[ok], effect[ok])[0, 1]
    return out


# ----------------------------------------------------------------------------- inputs


class Windows(NamedTuple):
    """Windows to explain: codes (N, L) uint8, coordinates (chrom, start, end; 0-based half-open;
    "sequence"/0/L for given sequences), source rows (-1 when not from a windows file), and
    labels (N, T_file) from a windows file with the names of its targets (None otherwise)."""

    codes: np.ndarray
    coords: pd.DataFrame
    rows: np.ndarray
    labels: np.ndarray | None = None
    label_names: list[str] | None = None


def parse_rows(text: str | None, n: int) -> np.ndarray:
    """Row selection: None/'' = all; 'a:b' (0-based, half-open) and/or comma-separated rows."""
    if not text:
        return np.arange(n)
    out: list[np.ndarray] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            if ":" in part:
                a, b = part.split(":", 1)
                out.append(np.arange(int(a or 0), int(b) if b else n))
            else:
                out.append(np.array([int(part)]))
        except ValueError:
            raise DanQError(
                f"`rows`: cannot read {part!r}; write rows as 0-based numbers or ranges a:b "
                "(e.g. 0:500,1200)",
                params="rows",
            ) from None
    rows = np.concatenate(out) if out else np.arange(0)
    if len(rows) == 0 or rows.min() < 0 or rows.max() >= n:
        raise DanQError(
            f"`rows`: {text!r} selects no rows or rows outside 0..{n - 1}; the file has {n} windows",
            params="rows",
        )
    return rows


def windows_from_h5(
    path: str | os.PathLike,
    rows: str | None = None,
    positives_of: str | None = None,
    max_windows: int | None = None,
) -> Windows:
    """Windows of a windows HDF5: `rows` (see `parse_rows`), then those positive for target
    `positives_of` (a name in the file), then the first `max_windows`."""
    from danq_pipeline.dataset import WindowsH5

    data = WindowsH5(path)
    n = len(data) // 2 if data.rc_pairs else len(data)  # forward strand only
    idx = parse_rows(rows, n)
    labels = data.labels()
    if positives_of:
        names = data.targets["name"].astype(str).tolist()
        if positives_of not in names:
            raise DanQError(
                f"`positives_of`: {path} has no target {positives_of!r} (it has "
                f"{', '.join(names[:8])}{'...' if len(names) > 8 else ''})",
                params="positives_of",
            )
        idx = idx[labels[idx, names.index(positives_of)] > 0]
    idx = idx[:max_windows] if max_windows else idx
    if len(idx) == 0:
        raise DanQError(
            f"{path}: no windows left after `rows`/`positives_of`; widen the selection",
            params=("rows", "positives_of"),
        )
    codes, _ = data.read_rows(idx)
    coords = data.coordinates().iloc[idx].reset_index(drop=True)
    return Windows(
        codes, coords, idx.astype(np.int64), labels[idx], data.targets["name"].astype(str).tolist()
    )


def windows_from_bed(
    bed: str | os.PathLike, fasta: str | os.PathLike, window: int, max_windows: int | None = None
) -> Windows:
    """The `window` window centred on each BED region (genomic context; N past contig ends)."""
    from danq_pipeline.genome import Genome
    from danq_pipeline.predict_io import read_regions

    table = read_regions(bed)  # refuses a file without regions, naming it
    table = table.head(max_windows) if max_windows else table
    genome = Genome(fasta)
    for chrom in table["chrom"].unique():
        genome.check_contig(str(chrom), source=str(bed))
    starts = ((table["start"] + table["end"]) // 2 - window // 2).to_numpy(dtype=np.int64)
    codes = np.stack(
        [
            genome.fetch_codes(str(c), int(s), int(s) + window, pad=True)
            for c, s in zip(table["chrom"], starts, strict=True)
        ]
    )
    coords = pd.DataFrame(
        {"chrom": table["chrom"].astype(str).to_numpy(), "start": starts, "end": starts + window}
    )
    return Windows(codes, coords, np.full(len(codes), -1, dtype=np.int64))


def windows_from_sequences(path: str | os.PathLike, window: int) -> Windows:
    """Sequences from a FASTA or a plain file (one per line), each centred in the window, padded with N."""
    from danq_pipeline.ism import sequence_input

    path = Path(path)
    if not path.exists():
        raise DanQError(f"`sequences` {path}: no such file", params="sequences")
    text = path.read_text()
    if text.lstrip().startswith(">"):
        seqs = ["".join(block.splitlines()[1:]) for block in text.split(">")[1:]]
    else:
        seqs = [line.strip() for line in text.splitlines() if line.strip()]
    if not seqs:
        raise DanQError(
            f"`sequences` {path}: no sequences; write one per line or as FASTA", params="sequences"
        )
    codes = np.stack([sequence_input(s, window).codes for s in seqs])
    coords = pd.DataFrame(
        {
            "chrom": "sequence",
            "start": np.zeros(len(seqs), dtype=np.int64),
            "end": np.full(len(seqs), window, dtype=np.int64),
        }
    )
    return Windows(codes, coords, np.full(len(seqs), -1, dtype=np.int64))


# ----------------------------------------------------------------------------- writing


def write_attributions(
    net,
    windows: Windows,
    targets: pd.DataFrame,
    target_index: np.ndarray,
    path: str | os.PathLike,
    *,
    method: str = "expected_gradients",
    n_shuffles: int = 10,
    n_steps: int = 16,
    seed: int = 0,
    tolerance: float = 0.05,
    dtype: str = "float16",
    batch_size: int = 64,
    chunk: int = 1024,
    device=None,
    progress: bool = False,
    attrs: dict | None = None,
) -> Path:
    """Attribute `windows` in batches of `batch_size` and stream them into `path` (HDF5, atomic).

    `targets` is the model's target table; `target_index` the columns to explain. The file is
    written as ``<path>.part`` and renamed when complete (format: docs/formats.md).
    """
    import h5py

    from danq_pipeline.progress import Progress

    if dtype not in ("float16", "float32"):
        raise DanQError(f"`dtype`: {dtype!r}; choose float16 or float32", params="dtype")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    n, length = windows.codes.shape
    t = len(target_index)
    bar = Progress(n, desc="attribute", unit="windows", enabled=progress)
    try:
        with h5py.File(tmp, "w") as h5:
            _write_header(h5, windows, targets.iloc[target_index], t, dtype, attrs or {})
            for a in range(0, n, batch_size):
                b = min(a + batch_size, n)
                att = attribute_batch(
                    net,
                    windows.codes[a:b],
                    target_index,
                    method=method,
                    n_shuffles=n_shuffles,
                    n_steps=n_steps,
                    seed=seed,
                    chunk=chunk,
                    device=device,
                )
                h5["contrib"][:, a:b] = att.contrib.astype(dtype)
                h5["hypothetical"][:, a:b] = att.hypothetical.astype(dtype)
                h5["logit"][:, a:b] = att.logit
                h5["ref_logit"][:, a:b] = att.ref_logit
                h5["completeness_error"][:, a:b] = att.error
                h5["flagged"][:, a:b] = flagged(att, tolerance)
                bar.update(b - a)
            h5.attrs.update(
                {
                    "method": method,
                    "n_shuffles": n_shuffles if method == "expected_gradients" else 0,
                    "n_steps": n_steps if method == "expected_gradients" else 0,
                    "seed": seed,
                    "tolerance": tolerance,
                    "n_flagged": int(h5["flagged"][:].sum()),
                }
            )
        os.replace(tmp, path)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return path


def _write_header(
    h5, windows: Windows, targets: pd.DataFrame, t: int, dtype: str, attrs: dict
) -> None:
    """Create every dataset (sized for all windows) and write the per-window tables."""
    import h5py

    from danq_pipeline import __version__
    from danq_pipeline.targets import write_targets_h5

    n, length = windows.codes.shape
    strs = h5py.string_dtype("utf-8")
    chunks = (1, min(n, 64), 4, length)
    for name in ("contrib", "hypothetical"):
        h5.create_dataset(
            name,
            shape=(t, n, 4, length),
            dtype=dtype,
            chunks=chunks,
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
    for name in ("logit", "ref_logit", "completeness_error"):
        h5.create_dataset(name, shape=(t, n), dtype="float32")
    h5.create_dataset("flagged", shape=(t, n), dtype=bool)
    h5.create_dataset("sequences", data=windows.codes, compression="gzip", compression_opts=1)
    h5.create_dataset(
        "windows/chrom", data=windows.coords["chrom"].astype(str).tolist(), dtype=strs
    )
    h5["windows/start"] = windows.coords["start"].to_numpy(dtype=np.int64)
    h5["windows/end"] = windows.coords["end"].to_numpy(dtype=np.int64)
    h5["windows/row"] = windows.rows
    if windows.labels is not None:
        h5["labels"] = windows.labels.astype(np.uint8)
        h5.create_dataset("label_names", data=list(windows.label_names), dtype=strs)
    write_targets_h5(h5, targets.reset_index(drop=True))
    h5.attrs.update(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "alphabet": ALPHABET,
            "window_size": length,
            "package_version": __version__,
            "dtype": dtype,
            **attrs,
        }
    )


class AttributionFile(NamedTuple):
    """One target's maps read back: codes (N, L), contrib and hypothetical (N, 4, L) float32,
    coordinates, labels (N,) of the target (None when the file holds none for it), flagged (N,),
    the target's name and the file's attributes."""

    codes: np.ndarray
    contrib: np.ndarray
    hypothetical: np.ndarray
    coords: pd.DataFrame
    labels: np.ndarray | None
    flagged: np.ndarray
    target: str
    attrs: dict


def read_attributions(path: str | os.PathLike, target: str | None = None) -> AttributionFile:
    """Read one target's maps (the only one when `target` is None) from an attribution file."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such attribution file; make one with `danq attribute`")
    with h5py.File(path, "r") as h5:
        if h5.attrs.get("format") != FORMAT:
            raise DanQError(
                f"{path}: not a danq attribution file (format={h5.attrs.get('format')!r})"
            )
        names = list(h5["targets/name"].asstr()[:])
        if target is None and len(names) > 1:
            raise DanQError(
                f"{path}: holds {len(names)} targets ({', '.join(names)}); choose one with `target`",
                params="target",
            )
        name = names[0] if target is None else target
        if name not in names:
            raise DanQError(
                f"`target`: {path} has no target {name!r} (it has {', '.join(names)})",
                params="target",
            )
        k = names.index(name)
        coords = pd.DataFrame(
            {
                "chrom": h5["windows/chrom"].asstr()[:],
                "start": h5["windows/start"][:],
                "end": h5["windows/end"][:],
            }
        )
        return AttributionFile(
            h5["sequences"][:],
            h5["contrib"][k].astype(np.float32),
            h5["hypothetical"][k].astype(np.float32),
            coords,
            _target_labels(h5, name),
            h5["flagged"][k],
            name,
            dict(h5.attrs),
        )


def _target_labels(h5, name: str) -> np.ndarray | None:
    """Labels (N,) of target `name` when the file holds labels for a target of that name."""
    if "labels" not in h5:
        return None
    names = list(h5["label_names"].asstr()[:])
    return h5["labels"][:, names.index(name)] if name in names else None


# ----------------------------------------------------------------------------- the `attribute` step


def run_attribute(
    model_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    data: str | None = None,
    rows: str | None = None,
    positives_of: str | None = None,
    bed: str | None = None,
    fasta: str | None = None,
    sequences: str | None = None,
    targets: list[str] | None = None,
    method: str = "expected_gradients",
    n_shuffles: int = 10,
    n_steps: int = 16,
    seed: int = 0,
    tolerance: float = 0.05,
    dtype: str = "float16",
    max_windows: int | None = None,
    batch_size: int = 64,
    chunk: int = 1024,
    device=None,
    progress: bool = False,
) -> Path:
    """Attribution maps of windows for one or more targets (`danq attribute`); returns the file.

    Windows come from exactly one of: `data` (a windows HDF5; `rows`, `positives_of` select),
    `bed` (with `fasta`) or `sequences` (FASTA or one per line).
    """
    from danq_pipeline.model import load_model
    from danq_pipeline.targets import select_targets

    if sum(x is not None for x in (data, bed, sequences)) != 1:
        raise DanQError(
            "give exactly one of `data` (windows HDF5), `bed` (with `fasta`) or `sequences`",
            params=("data", "bed", "fasta", "sequences"),
        )
    if method not in METHODS:
        raise DanQError(
            f"`method`: unknown method {method!r}; choose one of {', '.join(METHODS)}",
            params="method",
        )
    _io.ensure_writable(out, "out")
    loaded = load_model(model_path, device=None)  # the one checkpoint load of this module
    net = getattr(loaded, "net", loaded)  # TrainedModel.net, or the bare DanQ of older load_model
    model_targets, window = loaded.targets, int(net.kwargs["window"])
    index = select_targets(model_targets, targets)
    if data is not None:
        windows = windows_from_h5(data, rows, positives_of, max_windows)
    elif bed is not None:
        if fasta is None:
            raise DanQError(
                "`bed` needs `fasta` (the genome the model was trained on)", params=("bed", "fasta")
            )
        windows = windows_from_bed(bed, fasta, window, max_windows)
    else:
        windows = windows_from_sequences(sequences, window)
    if windows.codes.shape[1] != window:
        raise DanQError(
            f"{data}: windows are {windows.codes.shape[1]} bp but the model takes {window} bp; "
            "use windows prepared for this model"
        )
    return write_attributions(
        net,
        windows,
        model_targets,
        index,
        out,
        method=method,
        n_shuffles=n_shuffles,
        n_steps=n_steps,
        seed=seed,
        tolerance=tolerance,
        dtype=dtype,
        batch_size=batch_size,
        chunk=chunk,
        device=device,
        progress=progress,
        attrs={"model": str(model_path), "source": str(data or bed or sequences)},
    )
