"""JASPAR motifs offline (pyjaspar ships the JASPAR SQLite releases): PFMs as (4, w) ACGT arrays.

Used to initialise the `danq-jaspar` preset's first filters and to match learned filters
to known motifs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from danq_pipeline.encode import ALPHABET


class Motif(NamedTuple):
    """One JASPAR matrix: id (e.g. MA0139.1), name (e.g. CTCF), counts (4, w) in A,C,G,T order."""

    matrix_id: str
    name: str
    counts: np.ndarray

    @property
    def pfm(self) -> np.ndarray:
        """Position frequency matrix (4, w): each column sums to 1."""
        col = self.counts.sum(axis=0, keepdims=True)
        return self.counts / np.where(col > 0, col, 1)


@lru_cache(maxsize=4)
def load_jaspar(
    collection: str = "CORE", tax_group: str = "vertebrates", release: str | None = None
) -> tuple[Motif, ...]:
    """All motifs of a JASPAR collection/taxonomic group (latest version of each), offline.

    `release` names a pyjaspar release such as "JASPAR2020"; default is pyjaspar's newest.
    """
    from pyjaspar import jaspardb  # imported here: only the commands that need JASPAR pay for it

    db = jaspardb(release=release) if release else jaspardb()
    motifs = db.fetch_motifs(collection=collection, tax_group=[tax_group])
    return tuple(_to_motif(m) for m in motifs)


def jaspar_release() -> str:
    """The pyjaspar release used by default (e.g. 'JASPAR2026'), for provenance."""
    from pyjaspar import jaspardb

    return str(jaspardb().release)


def get_motif(matrix_id: str, release: str | None = None) -> Motif:
    """One motif by JASPAR matrix id (e.g. 'MA0139.1' for CTCF)."""
    from pyjaspar import jaspardb

    db = jaspardb(release=release) if release else jaspardb()
    found = db.fetch_motif_by_id(matrix_id)
    if found is None:
        raise KeyError(matrix_id)
    return _to_motif(found)


def _to_motif(m) -> Motif:
    counts = np.array([list(m.counts[b]) for b in ALPHABET], dtype=np.float64)
    return Motif(matrix_id=str(m.matrix_id), name=str(m.name), counts=counts)
