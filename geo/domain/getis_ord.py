"""Getis-Ord Gi* hot and cold spots on grid polygons: queen contiguity from geometry (within ≈ 1 cm,
so T-junctions count), binary star weights, esda's ``G_Local`` with permutations, and
Benjamini–Hochberg false-discovery-rate control. Pure: no database.

Deviation (README): the classes use the exact conditional-randomisation p-value of the same null
hypothesis; with 999 permutations no permutation p goes below 0.001, so FDR over thousands of grids
would never flag anything. esda's own p is kept as ``p_sim``.

>>> import shapely
>>> boxes = [shapely.box(x, 0, x + 1, 1) for x in range(3)]
>>> queen_contiguity(boxes).cardinality.tolist()
[1, 2, 1]
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import signal, stats

from geo.domain.errors import InvalidInput

__all__ = ["CLASSES", "CONTIGUITY_CACHE", "PERMUTATIONS", "Contiguity", "ContiguityCache", "benjamini_hochberg",
           "gistar", "queen_contiguity", "warm_gistar"]


#: (class, bin, label) from hottest to coldest; bin is signed confidence (3 = 99 %, 2 = 95 %, 1 = 90 %).
CLASSES: tuple[tuple[str, int, str], ...] = (
    ("hot_99", 3, "热点 99%"), ("hot_95", 2, "热点 95%"), ("hot_90", 1, "热点 90%"),
    ("not_significant", 0, "不显著"),
    ("cold_90", -1, "冷点 90%"), ("cold_95", -2, "冷点 95%"), ("cold_99", -3, "冷点 99%"),
)
#: False-discovery rates for the 99 / 95 / 90 % classes.
FDR_LEVELS = ((0.01, 3), (0.05, 2), (0.10, 1))
PERMUTATIONS = 999
#: Grids closer than this (degrees, ≈ 1 cm) are neighbours: shared edges from different files
#: or repaired rings are rarely bit-identical.
QUEEN_TOLERANCE_DEG = 1e-7
PVALUE_KINDS = ("exact", "permutation", "normal")


@dataclass(frozen=True)
class Contiguity:
    """Queen neighbours of ``n`` polygons as index pairs, both directions, no self pairs."""

    n: int
    focal: np.ndarray
    neighbor: np.ndarray

    @property
    def cardinality(self) -> np.ndarray:
        return np.bincount(self.focal, minlength=self.n)


def queen_contiguity(geoms: Sequence[Any] | np.ndarray, tolerance: float = QUEEN_TOLERANCE_DEG) -> Contiguity:
    """Polygons that share at least a point (within ``tolerance``) are neighbours: one STRtree
    query, about 0.1 s for 10,000 grids.

    >>> c = queen_contiguity([shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2), shapely.box(5, 5, 6, 6)])
    >>> c.cardinality.tolist()
    [1, 1, 0]
    """
    array = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(array)
    if tolerance > 0:
        i, j = tree.query(array, predicate="dwithin", distance=tolerance)
    else:
        i, j = tree.query(array, predicate="intersects")
    keep = i != j
    pairs = np.unique(np.column_stack([i[keep], j[keep]]).astype(np.int64), axis=0)
    return Contiguity(len(array), pairs[:, 0].copy(), pairs[:, 1].copy())


class ContiguityCache:
    """Weights per boundary version, kept in the process (grids change rarely; building them is
    the slow part of a cold Gi*). Thread-safe, least recently used out first."""

    def __init__(self, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Contiguity] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Contiguity]) -> tuple[Contiguity, bool]:
        """The cached weights for ``key`` (and True), or build, keep and return them (and False)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value, False

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CONTIGUITY_CACHE = ContiguityCache()


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values: a test is significant at false-discovery rate q when
    its adjusted p ≤ q.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    values = np.asarray(p, dtype=float)
    n = len(values)
    if n == 0:
        return values.copy()
    order = np.argsort(values)
    scaled = values[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def gistar(counts: Sequence[float] | np.ndarray, weights: Contiguity, *, permutations: int = PERMUTATIONS,
           seed: int | None = None, pvalue: str = "exact") -> pd.DataFrame:
    """Getis-Ord Gi* per polygon (self included, binary queen weights), one row per count:

    - ``z``: the Gi* z-score;
    - ``p``: the two-sided p-value the classes use, of the kind ``pvalue``: ``exact`` (default;
      the permutation null computed, see ``_conditional_p``; needs whole counts, else it falls back
      to ``permutation``), ``permutation`` (esda's ``permutations`` draws, ties counted on both
      sides; never below 2/(permutations+1)) or ``normal`` (from ``z``);
    - ``p_fdr``: Benjamini–Hochberg adjusted ``p`` (false-discovery rate);
    - ``p_sim`` and ``p_norm``: the permutation and normal p-values, for comparison;
    - ``bin`` (3 = hot at FDR 1 %, 2 = 5 %, 1 = 10 %; negative = cold; 0 = not significant),
      ``class`` (hot_99 … not_significant), ``label`` (热点 99% … 不显著) and ``neighbours``.

    Polygons without neighbours (islands) and counts without any variation are not significant.
    ``seed`` makes the permutations repeatable.
    """
    if pvalue not in PVALUE_KINDS:
        raise InvalidInput(f"pvalue={pvalue!r} 无效，可选：{', '.join(PVALUE_KINDS)}。", field="pvalue")
    y = np.asarray(counts, dtype=np.float64)
    if len(y) != weights.n:
        raise ValueError(f"{len(y)} counts for {weights.n} polygons")
    n = len(y)
    cardinality = weights.cardinality
    z, p_sim, p_norm, p, direction = (np.zeros(n), np.ones(n), np.ones(n), np.ones(n), np.zeros(n))
    if n >= 3 and np.ptp(y) > 0:
        z, p_sim, sim_direction = _g_local_star(y, weights, permutations, seed)
        p_norm = 2.0 * stats.norm.sf(np.abs(z))
        whole = bool(np.all(y >= 0) and np.all(y == np.round(y)))
        if pvalue == "exact" and whole:
            p, direction = _conditional_p(y, weights)
        elif pvalue == "normal":
            p, direction = p_norm, np.sign(z)
        else:
            p, direction = p_sim, sim_direction
    island = cardinality == 0
    p, p_sim, p_norm = (np.where(island, 1.0, a) for a in (p, p_sim, p_norm))
    p_fdr = benjamini_hochberg(p)
    level = np.zeros(n, dtype=np.int64)
    for q, rank in reversed(FDR_LEVELS):
        level[p_fdr <= q] = rank
    bins = (level * np.sign(direction)).astype(np.int64)
    names = {b: (c, label) for c, b, label in CLASSES}
    return pd.DataFrame({
        "z": z, "p": p, "p_fdr": p_fdr, "p_sim": p_sim, "p_norm": p_norm, "bin": bins,
        "class": [names[b][0] for b in bins], "label": [names[b][1] for b in bins], "neighbours": cardinality,
    })


def _g_local_star(y: np.ndarray, weights: Contiguity, permutations: int,
                  seed: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """esda's G_Local with star weights: (z, two-sided permutation p, the tail each observed G*
    lies in: +1 high, -1 low, 0 neither)."""
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    islands = np.flatnonzero(weights.cardinality == 0)
    # A Graph lists islands as a zero-weight self pair; binary weights, self added by star=True.
    focal = np.concatenate([weights.focal, islands])
    neighbor = np.concatenate([weights.neighbor, islands])
    weight = np.concatenate([np.ones(len(weights.focal)), np.zeros(len(islands))])
    graph = Graph.from_arrays(focal, neighbor, weight)
    with warnings.catch_warnings():
        # esda warns that its default alternative will change; we compute our own p below.
        warnings.simplefilter("ignore")
        # n_jobs=1: the parallel path starts joblib workers that each compile again (a minute).
        result = G_Local(y, graph, transform="B", permutations=permutations, star=True,
                         keep_simulations=True, n_jobs=1, seed=seed)
    z = np.nan_to_num(np.asarray(result.Zs, dtype=float))
    p, direction = _two_sided(np.asarray(result.Gs, dtype=float), np.asarray(result.rGs), permutations)
    return z, p, direction


def _two_sided(observed: np.ndarray, simulated: np.ndarray, permutations: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided pseudo p-values that count ties on both sides.

    esda's own p_sim counts ties only as "greater", so a grid whose neighbourhood is as empty as
    most random draws (sparse counts: many zeros) came out "significantly cold": on 10,000 grids
    with 0.3 cases each it flagged 2,027 at 5 %; counting ties as they are flags 112.
    """
    tolerance = 1e-9 * np.abs(observed) + 1e-15  # sums in another order differ in the last bits
    greater = (simulated >= (observed - tolerance)[:, None]).sum(axis=1)
    lesser = (simulated <= (observed + tolerance)[:, None]).sum(axis=1)
    p = np.minimum(1.0, 2.0 * (np.minimum(greater, lesser) + 1) / (permutations + 1))
    return p, np.sign(lesser - greater).astype(float)


def _conditional_p(y: np.ndarray, weights: Contiguity) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values of the same null as the permutations (each grid keeps its count, its
    neighbours are drawn at random from the others), computed instead of sampled, and the tail
    each grid lies in (+1 high, -1 low, 0 neither).

    With counts (integers) the neighbours' sum of a grid with k neighbours is the sum of k draws
    from the counts' distribution: its k-fold convolution (with replacement, which is slightly
    conservative). 999 permutations cannot give a p below 0.002, and Benjamini-Hochberg over
    10,000 grids then needs hundreds of discoveries before it accepts any; this p has no floor.
    """
    n = len(y)
    counts = y.astype(np.int64)
    pmf = np.bincount(counts) / n
    cardinality = weights.cardinality
    observed = np.bincount(weights.focal, weights=counts[weights.neighbor], minlength=n).astype(np.int64)
    p, direction = np.ones(n), np.zeros(n)
    distribution = np.array([1.0])
    for k in range(1, int(cardinality.max(initial=0)) + 1):
        distribution = np.clip(signal.fftconvolve(distribution, pmf), 0.0, None)
        cells = np.flatnonzero(cardinality == k)
        if len(cells) == 0:
            continue
        at_most = np.minimum(np.cumsum(distribution), 1.0)
        at_least = np.minimum(np.cumsum(distribution[::-1])[::-1], 1.0)
        lesser, greater = at_most[observed[cells]], at_least[observed[cells]]
        p[cells] = np.minimum(1.0, 2.0 * np.minimum(lesser, greater))
        direction[cells] = np.sign(lesser - greater)
    return p, direction


def _cache_kernels() -> int:
    """Let numba keep esda's compiled kernels on disk (esda compiles without cache=True), so only the
    very first process on a machine pays the compile (≈ 25 s); later ones load it in a few seconds.
    Returns how many kernels were switched to caching."""
    import esda.crand
    import esda.getisord
    import esda.significance
    from numba.core.registry import CPUDispatcher

    count = 0
    for module in (esda.crand, esda.getisord, esda.significance):
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and type(getattr(value, "_cache", None)).__name__ != "FunctionCache":
                try:
                    value.enable_caching()
                    count += 1
                except (OSError, RuntimeError):  # a read-only install: compile in memory as before
                    return count
    return count


def warm_gistar() -> None:
    """Run Gi* once on a 4×4 lattice so numba compiles esda's kernels (≈ 25 s the first time on a
    machine, a few seconds once numba's disk cache has them). Call at worker start, never on a request."""
    _cache_kernels()
    boxes = [shapely.box(x, y, x + 1, y + 1) for y in range(4) for x in range(4)]
    gistar(np.arange(16, dtype=float), queen_contiguity(boxes), permutations=9, seed=1)
