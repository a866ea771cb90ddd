"""DNA <-> compact base codes <-> one-hot, and reverse complements. No torch here.

Conventions used everywhere in the package:

* Alphabet order is **A, C, G, T** (channel 0..3). DeepSEA's original bundle used
  A, G, C, T; the importer converts it.
* Sequences are stored as uint8 *codes*: A=0, C=1, G=2, T=3, N=4 (any non-ACGT base,
  case-insensitive, is N). One-hot of N is an all-zero column.
* With ACGT order the complement of code c < 4 is 3 - c, so a reverse complement of a
  one-hot array is a flip of both the channel and the position axis.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"
N_CODE = 4

# byte -> code lookup table; every byte not in ACGTacgt maps to N_CODE
_LUT = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_COMPLEMENT = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)
_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)


def encode(seq: str | bytes) -> np.ndarray:
    """Encode a DNA string as uint8 codes (A=0, C=1, G=2, T=3, other=4), shape (L,)."""
    raw = seq.encode("ascii") if isinstance(seq, str) else bytes(seq)
    return _LUT[np.frombuffer(raw, dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """Turn codes of shape (L,) back into an upper-case string (N for code 4)."""
    return _BASES[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis; works on (L,) or (N, L) code arrays."""
    return _COMPLEMENT[np.asarray(codes)][..., ::-1]


def one_hot(codes: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """One-hot encode codes (N, L) -> (N, 4, L) (or (L,) -> (4, L)); N becomes all zeros."""
    codes = np.asarray(codes)
    eye = np.concatenate([np.eye(4, dtype=dtype), np.zeros((1, 4), dtype=dtype)])
    out = eye[codes]  # (..., L, 4)
    return np.ascontiguousarray(np.moveaxis(out, -1, -2))


def codes_from_one_hot(x: np.ndarray, order: str = ALPHABET) -> np.ndarray:
    """Convert a one-hot array (..., 4, L) whose channels follow `order` into codes (..., L).

    All-zero columns become N. Used e.g. to import DeepSEA's A,G,C,T one-hot data.
    """
    x = np.asarray(x)
    perm = np.array([ALPHABET.index(b) for b in order.upper()], dtype=np.uint8)
    idx = perm[np.argmax(x, axis=-2)]
    return np.where(x.max(axis=-2) > 0, idx, N_CODE).astype(np.uint8)
