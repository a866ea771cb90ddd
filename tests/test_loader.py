"""Data loading: deterministic chunk/buffer shuffle, contiguous reads, resume, workers, DDP shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_fixtures import planted_windows

from danq_pipeline.dataset import WindowsH5
from danq_pipeline.encode import decode, encode, one_hot, reverse_complement_codes
from danq_pipeline.loader import epoch_plan, iter_batches, to_one_hot


@pytest.fixture(scope="module")
def windows(tmp_path_factory) -> Path:
    return planted_windows(tmp_path_factory.mktemp("loader") / "train.h5", 1000, length=60, seed=5)


def _collect(batches) -> tuple[np.ndarray, np.ndarray, list[int]]:
    batches = list(batches)
    codes = np.concatenate([b.codes.numpy() for b in batches])
    labels = np.concatenate([b.labels.numpy() for b in batches])
    return codes, labels, [len(b.codes) for b in batches]


def test_epoch_plan_is_a_deterministic_chunked_permutation() -> None:
    plan = epoch_plan(1000, epoch=0, seed=1, chunk_rows=50, buffer_chunks=4)
    assert sorted(plan.order) == list(range(1000))
    assert np.array_equal(plan.order, epoch_plan(1000, 0, 1, chunk_rows=50, buffer_chunks=4).order)
    assert not np.array_equal(
        plan.order, epoch_plan(1000, 1, 1, chunk_rows=50, buffer_chunks=4).order
    )
    for a in range(0, 1000, 200):  # each buffer = 4 whole chunks, shuffled inside
        assert len(set(plan.order[a : a + 200] // 50)) == 4
    assert not np.array_equal(np.sort(plan.order[:200]), plan.order[:200])


def test_subsample_is_fixed_across_epochs_and_exact() -> None:
    a = epoch_plan(1000, 0, 7, limit=333, chunk_rows=50).order
    b = epoch_plan(1000, 3, 7, limit=333, chunk_rows=50).order
    assert len(a) == 333 and len(set(a)) == 333
    assert set(a) == set(b)


def test_batches_follow_the_plan_with_reverse_complements(windows: Path) -> None:
    data = WindowsH5(windows)
    plan = epoch_plan(len(data), 2, 3, rc_augment=True, chunk_rows=64, buffer_chunks=3)
    codes, labels, sizes = _collect(iter_batches(data, plan, 96))
    all_codes, all_labels = data.read_codes(0, len(data))
    expected = all_codes[plan.order].copy()
    # built without the function under test: complement of code c < 4 is 3 - c (A<->T, C<->G), N stays
    flipped = expected[plan.rc][:, ::-1]
    expected[plan.rc] = np.where(flipped == 4, 4, 3 - flipped.astype(np.int16))
    assert 0.4 < plan.rc.mean() < 0.6
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(labels, all_labels[plan.order])
    assert sizes == [96] * 10 + [40]


def test_reads_are_contiguous_blocks_not_samples(windows: Path) -> None:
    class Counting(WindowsH5):
        reads = 0

        def read_codes(self, start, stop):
            Counting.reads += 1
            return super().read_codes(start, stop)

    data = Counting(windows)
    plan = epoch_plan(len(data), 0, 1, chunk_rows=64, buffer_chunks=4)
    _collect(iter_batches(data, plan, 50))
    assert Counting.reads <= len(data) // 64 + 1  # at most one read per chunk, never one per window


def test_resume_mid_epoch_gives_the_remaining_batches(windows: Path) -> None:
    data = WindowsH5(windows)
    plan = epoch_plan(len(data), 0, 9, rc_augment=True, chunk_rows=64, buffer_chunks=2)
    full = list(iter_batches(data, plan, 70))
    rest = list(iter_batches(data, plan, 70, start=full[4].position))
    assert len(rest) == len(full) - 5
    for a, b in zip(full[5:], rest, strict=True):
        assert torch.equal(a.codes, b.codes) and a.position == b.position


def test_worker_processes_give_the_same_batches(windows: Path) -> None:
    data = WindowsH5(windows)
    plan = epoch_plan(len(data), 1, 2, rc_augment=True, chunk_rows=64, buffer_chunks=2)
    serial = _collect(iter_batches(data, plan, 64))
    parallel = _collect(iter_batches(data, plan, 64, workers=2))
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])


def test_ranks_split_each_global_batch(windows: Path) -> None:
    data = WindowsH5(windows)
    plan = epoch_plan(len(data), 0, 4, chunk_rows=64, buffer_chunks=2)
    single = _collect(iter_batches(data, plan, 64))[0]
    r0 = list(iter_batches(data, plan, 32, rank=0, world_size=2))
    r1 = list(iter_batches(data, plan, 32, rank=1, world_size=2))
    assert len(r0) == len(r1) == 1000 // 64  # the incomplete last global batch is dropped
    merged = np.concatenate(
        [np.concatenate([a.codes, b.codes]) for a, b in zip(r0, r1, strict=True)]
    )
    np.testing.assert_array_equal(merged, single[: len(merged)])


def test_reverse_complement_codes_by_hand() -> None:
    """Literal expectations: a swapped complement table (C->C, G->G) or a missing flip fails."""
    assert decode(reverse_complement_codes(encode("AACGTN"))) == "NACGTT"
    assert decode(reverse_complement_codes(encode("CCCG"))) == "CGGG"
    assert decode(reverse_complement_codes(encode("GATTACA"))) == "TGTAATC"
    batch = reverse_complement_codes(np.stack([encode("ACGTT"), encode("GGNCA")]))
    assert [decode(r) for r in batch] == ["AACGT", "TGNCC"]


def test_to_one_hot_matches_numpy_encoding() -> None:
    codes = np.array([[0, 1, 2, 3, 4, 0]], dtype=np.uint8)
    x = to_one_hot(torch.from_numpy(codes), torch.device("cpu"))
    np.testing.assert_array_equal(x.numpy(), one_hot(codes))
    assert x[0, :, 4].sum() == 0  # N is all zeros
