"""Training data loading over a windows HDF5 file: big contiguous reads, deterministic shuffle.

The epoch order is a pure function of (seed, epoch): the file's rows are cut into chunks
(aligned with the HDF5 chunks), the chunks are shuffled, consecutive chunks form a
*buffer*, and rows are shuffled within each buffer. A DataLoader (optionally with worker
processes) reads one buffer per item with a handful of contiguous HDF5 reads; the main
process cuts batches from the stream of buffers. Because the order is known up front,
resuming at sample position ``p`` of an epoch only reads the buffers from ``p`` on, and
the batches are the same whatever the number of workers.

Batches hold uint8 base codes (B, L) and float32 labels (B, T); `to_one_hot` turns codes
into the model's (B, 4, L) float input on the target device (4x less to copy than floats).

With DistributedDataParallel (``world_size > 1``) every rank walks the same global stream
of batches of ``batch_size * world_size`` samples and keeps its own contiguous slice of
each, so a run on W ranks sees the same global batches as one process with W times the
batch size. The last incomplete global batch is dropped then (ranks must agree on steps).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from danq_pipeline.dataset import WindowsH5
from danq_pipeline.encode import reverse_complement_codes
from danq_pipeline.errors import DanQError

CHUNK_ROWS = 256  # rows per shuffled chunk (the prepare step writes 256-row HDF5 chunks)
BUFFER_CHUNKS = 32  # chunks per shuffle buffer: 8,192 windows, 8 MB of codes at 1 kb


class EpochPlan(NamedTuple):
    """The sample order of one epoch: `order` (row indices) cut into buffers of `buffer_rows`."""

    order: np.ndarray
    buffer_rows: int
    rc: np.ndarray  # bool per position in `order`: reverse-complement this sample


def epoch_plan(
    n_rows: int,
    epoch: int,
    seed: int,
    *,
    shuffle: bool = True,
    rc_augment: bool = False,
    limit: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    buffer_chunks: int = BUFFER_CHUNKS,
) -> EpochPlan:
    """Sample order for `epoch`: shuffle chunks, then shuffle rows within each buffer.

    `limit` trains on a fixed subsample of whole chunks (chosen from `seed` alone, the same
    every epoch, cut to exactly `limit` rows). `rc_augment` flips a random half of the
    samples to their reverse complement (drawn anew each epoch).
    """
    rng = np.random.default_rng([seed, epoch, 0x7A11])
    rows = np.arange(n_rows, dtype=np.int64)
    if limit is not None and limit < n_rows:
        n_chunks = -(-n_rows // chunk_rows)
        keep = np.sort(
            np.random.default_rng([seed, 0x5AB5]).permutation(n_chunks)[: -(-limit // chunk_rows)]
        )
        rows = np.concatenate([rows[c * chunk_rows : (c + 1) * chunk_rows] for c in keep])[:limit]
    chunks = [rows[a : a + chunk_rows] for a in range(0, len(rows), chunk_rows)]
    if shuffle and chunks:
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    order = np.concatenate(chunks) if chunks else rows
    buffer_rows = chunk_rows * buffer_chunks
    if shuffle:
        for a in range(0, len(order), buffer_rows):
            rng.shuffle(order[a : a + buffer_rows])
    rc = rng.random(len(order)) < 0.5 if rc_augment else np.zeros(len(order), dtype=bool)
    return EpochPlan(order, buffer_rows, rc)


class ReadFailure(NamedTuple):
    """A buffer that could not be read (damaged file). Returned rather than raised, because a
    DataLoader worker re-raises errors in the main process with the worker's whole traceback
    folded into the message; `iter_batches` raises it as the one-line DanQError it was."""

    message: str


class BufferDataset(torch.utils.data.Dataset):
    """Item i = buffer i of an `EpochPlan`: codes (n, L) uint8 and labels (n, T) float32, in order.

    Reads the distinct row runs of the buffer with contiguous HDF5 slices (one per run of
    adjacent chunks), then gathers rows into the plan's order and applies the RC flags.
    """

    def __init__(self, data: WindowsH5, plan: EpochPlan) -> None:
        self.data = data
        self.plan = plan

    def __len__(self) -> int:
        return -(-len(self.plan.order) // self.plan.buffer_rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor] | ReadFailure:
        a = i * self.plan.buffer_rows
        idx = self.plan.order[a : a + self.plan.buffer_rows]
        try:
            codes, labels = self.data.read_rows(idx)
        except (
            DanQError
        ) as err:  # a damaged file: the message travels back as data (see ReadFailure)
            return ReadFailure(str(err))
        flip = self.plan.rc[a : a + self.plan.buffer_rows]
        if flip.any():
            codes[flip] = reverse_complement_codes(codes[flip])
        return torch.from_numpy(codes), torch.from_numpy(labels.astype(np.float32))


class Batch(NamedTuple):
    """One batch: codes (B, L) uint8, labels (B, T) float32, and its end position in the epoch."""

    codes: torch.Tensor
    labels: torch.Tensor
    position: int


def iter_batches(
    data: WindowsH5,
    plan: EpochPlan,
    batch_size: int,
    *,
    start: int = 0,
    workers: int = 0,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Batch]:
    """Yield this rank's batches of an epoch, starting at global sample position `start`.

    `position` in each batch is the global position after it (what a checkpoint stores).
    """
    global_bs = batch_size * world_size
    n = len(plan.order)
    end = n - n % global_bs if world_size > 1 else n
    first = start // plan.buffer_rows
    loader = torch.utils.data.DataLoader(
        BufferDataset(data, plan),
        batch_size=None,
        sampler=range(first, len(BufferDataset(data, plan))),
        num_workers=workers,
        pin_memory=pin_memory,
        generator=torch.Generator(),
        persistent_workers=False,
        prefetch_factor=2 if workers else None,
    )
    pos = first * plan.buffer_rows  # global position of carry[0]
    carry: list[tuple[torch.Tensor, torch.Tensor]] = []
    have = 0
    for item in loader:
        if isinstance(item, ReadFailure):
            raise DanQError(item.message)
        codes, labels = item
        carry.append((codes, labels))
        have += len(codes)
        if pos < start:  # drop what a resumed run already consumed
            skip = min(start - pos, have)
            carry, have, pos = _drop(carry, skip), have - skip, pos + skip
        while have >= global_bs and pos + global_bs <= end:
            batch, carry = _take(carry, global_bs)
            have -= global_bs
            pos += global_bs
            yield _slice(batch, rank, batch_size, pos)
    if have and pos < end:  # last, smaller batch (single process only)
        batch, _ = _take(carry, have)
        yield _slice(batch, rank, batch_size, pos + have)


def _take(carry: list, k: int) -> tuple[tuple[torch.Tensor, torch.Tensor], list]:
    """First k rows of the carried buffers, and the rest."""
    codes = torch.cat([c for c, _ in carry]) if len(carry) > 1 else carry[0][0]
    labels = torch.cat([y for _, y in carry]) if len(carry) > 1 else carry[0][1]
    rest = [(codes[k:], labels[k:])] if len(codes) > k else []
    return (codes[:k], labels[:k]), rest


def _drop(carry: list, k: int) -> list:
    return _take(carry, k)[1] if k else carry


def _slice(
    batch: tuple[torch.Tensor, torch.Tensor], rank: int, batch_size: int, position: int
) -> Batch:
    codes, labels = batch
    if len(codes) > batch_size:  # DDP: this rank's contiguous share of the global batch
        codes, labels = (
            codes[rank * batch_size : (rank + 1) * batch_size],
            labels[rank * batch_size : (rank + 1) * batch_size],
        )
    return Batch(codes, labels, position)


def to_one_hot(
    codes: torch.Tensor, device: torch.device, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """uint8 codes (B, L) -> one-hot (B, 4, L) on `device`; code 4 (N) becomes all zeros.

    One broadcast comparison against 0..3 (no int64 index tensor, no gather, no transpose
    copy): about 4x faster on the CPU than a lookup table.
    """
    codes = codes.to(device, non_blocking=True)
    bases = torch.arange(4, dtype=codes.dtype, device=device).view(1, 4, 1)
    return (codes.unsqueeze(1) == bases).to(dtype)
