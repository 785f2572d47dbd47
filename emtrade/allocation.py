"""Initial allocation: how each cap is split into permits held by the enterprises.

For every metal p and period t, the allocating caps (role ``allocate``) form a laminar family: any
two are nested or disjoint. Each is split top-down among its members by *proportional water
filling*: a cap of total T over members with weights w_j, where some members lie in smaller
allocating caps C (with their own totals T_C), gives

    a_j = λ·w_j          for members in no smaller cap,
    A_C = min(λ·W_C, T_C) for each smaller cap C (W_C = Σ_{j∈C} w_j), then split inside C,

with λ the largest value such that Σ a_j + Σ A_C ≤ T. Permits a cap cannot place (its members all
sit in smaller caps that are full) stay with the government. The weights w_j are the method's:

- ``grandfathering``: historical discharge (the ``history`` column; default the baseline);
- ``equal_reduction``: baseline, so every member cuts the same fraction 1 − T/Σb;
- ``benchmark``: output × the sector's benchmark intensity (kg/t), given or, by default, the
  intensity of the sector's ``benchmark_percentile``-th cleanest firm;
- ``auction``: no free permits; the government sells the whole cap at the clearing price;
- ``given``: the enterprises' ``allocation`` column as it stands (it must fit within every
  allocating cap).

Enterprises on the phase-out list receive no permits except under ``given``. All quantities are
kg/yr.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emtrade.errors import EmtradeError
from emtrade.inputs import Inputs
from emtrade.scenario.schema import Allocation as AllocationSpec


@dataclass
class Allocation:
    """Permits per emission pair and period (kg/yr), NaN where no allocating cap covers the pair.

    ``permits`` (shape n_pairs × n_periods) are the permits each enterprise is given free;
    ``supply`` the permits issued in each pair's name: the same, except under an auction, where
    the government sells them and ``supply`` is the equal-reduction split of the cap, which sets
    each market's supply and the firm-level limits of command-and-control (``cac_basis``).
    ``government`` lists, per allocating cap and period, the permits nobody was given (kg/yr):
    the whole cap under an auction.
    """

    method: str
    permits: np.ndarray
    government: pd.DataFrame  # cap, pollutant, period, unallocated
    supply: np.ndarray
    cac_basis: str


def allocate(inputs: Inputs, spec: AllocationSpec) -> Allocation:
    """Split the allocating caps among enterprises by ``spec.method``; see the module docstring."""
    method = spec.method
    n_pairs, periods = len(inputs.pairs), inputs.periods
    permits = np.full((n_pairs, len(periods)), np.nan)
    pair_of = pair_lookup(inputs)
    weights = _weights(inputs, spec) if method not in ("auction", "given") else None
    gov_rows = []
    caps = inputs.caps
    if not caps.empty:
        alloc_caps = caps[caps.role == "allocate"]
        for (pol, period), group in alloc_caps.groupby(["pol", "period"], sort=False):
            t = periods.index(period)
            members = {int(k): group.at[k, "members"] for k in group.index}
            totals = {int(k): float(group.at[k, "total"]) for k in group.index}
            codes = {int(k): pair_of(members[k], int(pol)) for k in group.index}
            in_some = np.zeros(n_pairs, dtype=bool)
            for c in codes.values():
                in_some[c] = True
            covered = np.flatnonzero(in_some)  # the pairs in any of the caps, sorted
            if method == "auction":
                permits[covered, t] = 0.0
                for k in group.index:
                    gov_rows.append((group.at[k, "cap"], group.at[k, "pollutant"], period, totals[int(k)]))
                continue
            if method == "given":
                permits[covered, t] = _given(inputs, covered)
                for k in group.index:
                    placed = permits[codes[int(k)], t].sum()
                    if placed > totals[int(k)] * (1 + 1e-9) + 1e-9:
                        raise EmtradeError(
                            f"allocation 'given': the allocations in cap {group.at[k, 'cap']} "
                            f"({group.at[k, 'pollutant']}, period {period}) add up to {placed:g} kg/yr, "
                            f"more than its total {totals[int(k)]:g} kg/yr"
                        )
                for k in _roots(members):
                    gov_rows.append(
                        (group.at[k, "cap"], group.at[k, "pollutant"], period, totals[k] - permits[codes[k], t].sum())
                    )
                continue
            w = weights[:, t]
            out = np.zeros(n_pairs)
            leftover = _water_fill(members, totals, codes, w, out)
            permits[covered, t] = out[covered]
            for k, rest in leftover.items():
                gov_rows.append((group.at[k, "cap"], group.at[k, "pollutant"], period, rest))
    government = pd.DataFrame(gov_rows, columns=["cap", "pollutant", "period", "unallocated"])
    if method == "auction":
        # command-and-control needs firm-level limits: the same cap split by equal reduction
        ref = allocate(inputs, AllocationSpec(method="equal_reduction"))
        return Allocation(method, permits, government, ref.permits, "equal_reduction")
    return Allocation(method, permits, government, permits.copy(), method)


def _weights(inputs: Inputs, spec: AllocationSpec) -> np.ndarray:
    """The weight of every (pair, period) under ``spec.method``; phase-out enterprises weigh nothing."""
    pairs, n_t = inputs.pairs, len(inputs.periods)
    if spec.method == "grandfathering":
        w = pairs.history.to_numpy(dtype=float)
    elif spec.method == "equal_reduction":
        w = pairs.baseline.to_numpy(dtype=float)
    elif spec.method == "benchmark":
        w = _benchmark_weights(inputs, spec)
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(spec.method)
    w = w.copy()
    if inputs.phase_out:
        closed = pairs.enterprise.isin(inputs.phase_out).to_numpy()
        w[closed] = 0.0
    return np.repeat(w[:, None], n_t, axis=1)


def _benchmark_weights(inputs: Inputs, spec: AllocationSpec) -> np.ndarray:
    """output_j × intensity(sector_j, p): given benchmarks, else the sector's percentile intensity."""
    pairs = inputs.pairs
    sector = inputs.enterprises.sector.to_numpy()[pairs.ent.to_numpy()]
    output = inputs.enterprises.output.to_numpy(dtype=float)[pairs.ent.to_numpy()]
    intensity = pairs.baseline.to_numpy(dtype=float) / output
    given = spec.benchmarks or {}
    bench = np.full(len(pairs), np.nan)
    frame = pd.DataFrame({"sector": sector, "pollutant": pairs.pollutant.to_numpy(), "intensity": intensity})
    for (s, p), g in frame.groupby(["sector", "pollutant"], sort=False):
        if s in given and p in given[s]:
            value = given[s][p]
        else:
            finite = g.intensity[np.isfinite(g.intensity)]
            value = float(np.percentile(finite, spec.benchmark_percentile)) if len(finite) else 0.0
        bench[g.index.to_numpy()] = value
    w = output * bench
    return np.where(np.isfinite(w), w, 0.0)


def _given(inputs: Inputs, covered: np.ndarray) -> np.ndarray:
    pairs = inputs.pairs
    keys = list(zip(pairs.enterprise.to_numpy()[covered], pairs.pollutant.to_numpy()[covered], strict=True))
    return np.array([inputs.given_allocation.get(k, 0.0) for k in keys], dtype=float)


def pair_lookup(inputs: Inputs):
    """A vectorised (enterprise codes, metal code) → pair numbers lookup over ``inputs.pairs``.

    ``lookup(ents, pol)`` returns the pair number of each (ents[i], pol) as int64, in the order
    given; a pair that does not exist raises ``KeyError`` (as a dict lookup would).
    """
    pairs = inputs.pairs
    n_pol = int(pairs.pol.max()) + 1 if len(pairs) else 1
    key = pairs.ent.to_numpy(dtype=np.int64) * n_pol + pairs.pol.to_numpy(dtype=np.int64)
    order = np.arange(len(key)) if (np.diff(key) > 0).all() else np.argsort(key, kind="stable")
    sorted_key = key[order]

    def lookup(ents, pol: int) -> np.ndarray:
        ents = np.asarray(ents, dtype=np.int64)
        if len(ents) == 0:
            return np.zeros(0, dtype=np.int64)
        q = ents * n_pol + int(pol)
        pos = np.minimum(np.searchsorted(sorted_key, q), max(len(sorted_key) - 1, 0))
        found = (sorted_key[pos] == q) if len(sorted_key) else np.zeros(len(q), dtype=bool)
        if not found.all():
            raise KeyError((int(ents[~found][0]), int(pol)))
        return order[pos].astype(np.int64)

    return lookup


def _member_set(m: np.ndarray) -> np.ndarray:
    """A cap's members as a sorted array of distinct enterprise codes (a set, compared with numpy)."""
    m = np.asarray(m, dtype=np.int64)
    return m if (np.diff(m) > 0).all() else np.unique(m)


def _proper_subset(a: np.ndarray, b: np.ndarray) -> bool:
    """a ⊂ b, strictly, for sorted arrays of distinct codes."""
    return len(a) < len(b) and bool(np.isin(a, b, assume_unique=True).all())


def _roots(members: dict[int, np.ndarray]) -> list[int]:
    sets = {k: _member_set(m) for k, m in members.items()}
    return [k for k in sets if not any(k != o and _proper_subset(sets[k], sets[o]) for o in sets)]


def _water_fill(
    members: dict[int, np.ndarray],
    totals: dict[int, float],
    codes: dict[int, np.ndarray],
    w: np.ndarray,
    out: np.ndarray,
) -> dict[int, float]:
    """Split a laminar family of caps top-down by proportional water filling; fills ``out``.

    Returns the permits each root cap could not place (kg/yr). Member sets are sorted arrays of
    enterprise codes, so that the work is numpy's, not a Python loop over members.
    """
    sets = {k: _member_set(m) for k, m in members.items()}
    # parent = the smallest strictly larger cap containing it
    parent: dict[int, int | None] = {}
    for k, s in sets.items():
        bigger = [o for o, so in sets.items() if o != k and _proper_subset(s, so)]
        parent[k] = min(bigger, key=lambda o: len(sets[o])) if bigger else None
    # identical scopes (same members) would make the tree ambiguous: the tighter one is the child
    for k, s in sets.items():
        for o, so in sets.items():
            if o < k and np.array_equal(s, so):
                child, par = (k, o) if totals[k] <= totals[o] else (o, k)
                parent[child] = par
    children = {k: [c for c in sets if parent.get(c) == k] for k in sets}
    # the pair of each member (one metal, one period: the same in every cap)
    all_e = np.concatenate([np.asarray(members[k], dtype=np.int64) for k in sets])
    all_code = np.concatenate([np.asarray(codes[k], dtype=np.int64) for k in sets])
    member_e, first = np.unique(all_e, return_index=True)
    member_code = all_code[first]
    leftover: dict[int, float] = {}

    def split(k: int, amount: float) -> float:
        kids = children[k]
        in_kids = np.unique(np.concatenate([sets[c] for c in kids])) if kids else np.zeros(0, dtype=np.int64)
        loose_e = np.setdiff1d(sets[k], in_kids, assume_unique=True)  # sorted, as sorted(set) would be
        loose = member_code[np.searchsorted(member_e, loose_e)]
        w_loose = float(w[loose].sum()) if len(loose) else 0.0
        kid_w = [float(w[codes[c]].sum()) for c in kids]
        kid_cap = [totals[c] for c in kids]
        lam = _lambda(amount, w_loose, kid_w, kid_cap)
        placed = 0.0
        if len(loose) and np.isfinite(lam):
            out[loose] = lam * w[loose]
            placed += lam * w_loose
        for c, wc, cap in zip(kids, kid_w, kid_cap, strict=True):
            give = cap if not np.isfinite(lam) else min(lam * wc, cap)
            rest = split(c, give)
            placed += give - rest
        return max(amount - placed, 0.0)

    for k in sets:
        if parent[k] is None:
            leftover[k] = split(k, totals[k])
    return leftover


def _lambda(amount: float, w_loose: float, kid_w: list[float], kid_cap: list[float]) -> float:
    """The λ ≥ 0 with λ·w_loose + Σ min(λ·W_C, T_C) = amount (inf if all is placed below capacity).

    The left side is piecewise linear and non-decreasing in λ; its breakpoints are T_C / W_C.
    """
    if amount <= 0:
        return 0.0
    kids = [(cap / wc if wc > 0 else 0.0, wc, cap) for wc, cap in zip(kid_w, kid_cap, strict=True)]
    kids.sort()
    slope = w_loose + sum(wc for _, wc, _ in kids if wc > 0)
    filled = 0.0  # capacity of kids already saturated
    prev = 0.0
    for bp, wc, cap in kids:
        if wc <= 0:
            continue
        # on [prev, bp] the function is filled + slope*λ
        value_at_bp = filled + slope * bp
        if value_at_bp >= amount:
            return (amount - filled) / slope if slope > 0 else prev
        filled += cap
        slope -= wc
        prev = bp
    if slope > 0:
        return (amount - filled) / slope
    return float("inf")  # every member sits in a full sub-cap: the rest stays with the government
