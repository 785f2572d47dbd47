"""Market power (Hahn 1984): dominant firms set the price against a price-taking fringe.

In a market m with required abatement R = B − S (baseline minus permits), the fringe abates
A_F(P) at price P (its supply curve: every fringe option used up to where its marginal cost is P)
and the dominant coalition abates the rest, A = R − A_F(P). The coalition chooses A to minimise
what it pays,

    J(A) = C_D(A) + P_F(R − A) · (b_D − A − a_D),

its own abatement cost plus what it pays for permits bought (or earns, when b_D − A < a_D);
C_D is its least abatement cost, P_F the fringe's inverse supply (where the fringe's supply jumps,
the coalition picks the end of the price interval that suits it) and a_D its permits. The exact
minimum: on every interval between breakpoints of the two piecewise-linear curves J is quadratic,
so the candidates are the breakpoints and each interval's stationary point. This is Hahn's
"search over the price with the fringe's supply", exact for the cost forms it allows: options that
each abate one metal of one enterprise, with linear or step marginal costs and no lumpy decisions,
in markets without banking, fees, trading ratios or metal exchange.

The chosen abatement is then imposed on the coalition (its discharge in the market is fixed) and
the whole model is solved again; the efficiency loss is the increase of the total resource cost
over the competitive outcome. With Hahn's example (both MACs = a, baselines 100, cap 100, the
dominant firm holding q0 permits) the price is (100 + q0)/3.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from emtrade.errors import EmtradeError


class Curve:
    """A supply curve A(P) (kg/yr abated at price P) from linear-MAC pieces, capped per emission pair.

    Each piece: marginal cost c0 + s·q for q ∈ [0, qmax] (s = 0 for a step). Each pair's total is
    capped at its baseline. Vertices trace the curve monotonically in P and A, so that the same
    polyline read sideways is the inverse supply (the marginal cost of the A-th kg).
    """

    def __init__(self, pieces: list[tuple[int, float, float, float]], caps: dict[int, float]):
        self.pieces = pieces  # (pair, c0, s, qmax)
        self.caps = caps
        events = set()
        for _, c0, s, q in pieces:
            events.add(c0)
            if s > 0:
                events.add(c0 + s * q)
        self._base_events = sorted(events)
        # per-pair saturation prices (where a pair's own supply reaches its baseline)
        for pair in {p for p, *_ in pieces}:
            events |= self._saturation(pair)
        self.events = np.array(sorted(events) or [0.0])
        lo = [self.value(p, -1) for p in self.events]
        hi = [self.value(p, +1) for p in self.events]
        # below the cheapest option nothing is supplied, down to any (clipped: non-negative) price
        verts = [(min(float(self.events[0]), 0.0) - 1.0, 0.0)]
        for p, a_lo, a_hi in zip(self.events, lo, hi, strict=True):
            verts.append((float(p), a_lo))
            if a_hi > a_lo:
                verts.append((float(p), a_hi))
        self.vertices = np.array(verts)
        self.max = float(self.vertices[-1, 1])

    def _pair_raw(self, pair: int, price: float, side: int) -> float:
        total = 0.0
        for p, c0, s, q in self.pieces:
            if p != pair:
                continue
            if s > 0:
                total += min(max((price - c0) / s, 0.0), q)
            elif price > c0 or (price == c0 and side > 0):
                total += q
        return total

    def _saturation(self, pair: int) -> set[float]:
        cap = self.caps.get(pair, np.inf)
        out = set()
        prev = None
        for p in self._base_events:
            lo, hi = self._pair_raw(pair, p, -1), self._pair_raw(pair, p, +1)
            if prev is not None and prev[1] < cap < lo:  # crossed on the sloped stretch before p
                p0, a0 = prev
                out.add(p0 + (cap - a0) * (p - p0) / (lo - a0))
            if lo <= cap <= hi:
                out.add(p)
            prev = (p, hi)
        return out

    def value(self, price: float, side: int = +1) -> float:
        """A(P−) (side −1) or A(P+) (side +1)."""
        pairs = {p for p, *_ in self.pieces}
        return float(sum(min(self._pair_raw(pair, price, side), self.caps.get(pair, np.inf)) for pair in pairs))

    def price_at(self, quantity: float) -> tuple[float, float]:
        """The interval of prices at which the curve supplies ``quantity`` (upper end inf at capacity)."""
        v = self.vertices
        q = min(max(quantity, 0.0), self.max)
        tol = 1e-12 * max(1.0, self.max)
        on = []
        for k in range(len(v) - 1):
            (p0, a0), (p1, a1) = v[k], v[k + 1]
            if a0 - tol <= q <= a1 + tol:
                if a1 - a0 > tol:
                    on.append(p0 + (q - a0) * (p1 - p0) / (a1 - a0))
                else:  # flat in A: every price of the stretch
                    on.extend([p0, p1])
        if not on:
            on = [float(v[-1, 0])]
        low, high = min(on), max(on)
        if q >= self.max - tol:
            high = np.inf
        return max(low, 0.0), max(high, 0.0)

    def cost(self, quantity: float) -> float:
        """∫₀^A MAC(q) dq: the least cost of abating ``quantity`` (area left of the curve)."""
        v = self.vertices
        total, q = 0.0, min(max(quantity, 0.0), self.max)
        for k in range(len(v) - 1):
            (p0, a0), (p1, a1) = v[k], v[k + 1]
            if a1 <= a0:
                continue
            a_end = min(a1, q)
            if a_end <= a0:
                break
            p_end = p0 + (a_end - a0) * (p1 - p0) / (a1 - a0)
            total += 0.5 * (p0 + p_end) * (a_end - a0)
        return total

    def breakpoints(self) -> np.ndarray:
        return np.unique(self.vertices[:, 1])


def _pieces(built, pts: np.ndarray) -> tuple[list, dict]:
    """Linear-MAC pieces of the options abating the pairs ``pts`` (period-major indices), per kg."""
    inputs = built.inputs
    n_opt = len(inputs.options)
    act = built.problem.columns["activity"]
    a = built.problem.arrays()
    Kc = built.K.tocsc()
    opt = inputs.options
    pieces, caps = [], {}
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))
    for pt in pts:
        caps[int(pt)] = float(base[pt])
    row = built.K.tocsr()
    for pt in pts:
        cols = row.indices[row.indptr[pt] : row.indptr[pt + 1]]
        for col in cols:
            k_col = Kc.indices[Kc.indptr[col] : Kc.indptr[col + 1]]
            o = col % n_opt
            if len(k_col) != 1 or opt.integer.iat[o] or opt.fixed_cost.iat[o] > 0 or opt.requires.iat[o] >= 0:
                raise EmtradeError(
                    f"market power: option {o} of enterprise '{opt.enterprise.iat[o]}' ({opt.kind.iat[o]}) abates "
                    "several metals or is a lumpy decision; the exact search needs options that each abate one "
                    "metal with a linear or step marginal cost"
                )
            k = float(row.data[row.indptr[pt] : row.indptr[pt + 1]][list(cols).index(col)])
            lo, up = a["col_lower"][act.start + col], a["col_upper"][act.start + col]
            if lo > 0:
                raise EmtradeError("market power: forced options (phase-out) are not supported in the exact search")
            c, h = float(opt.cost.iat[o]), float(opt.quad.iat[o])
            pieces.append((int(pt), c / k, h / (k * k), float(up) * k))
    return pieces, caps


def dominant_outcome(built, m: int, dominant: set[str]) -> dict:
    """The coalition's optimal abatement and the price in market ``m`` (see the module docstring)."""
    inputs = built.inputs
    n_pairs = len(inputs.pairs)
    pts = np.flatnonzero(built.market_of == m)
    ents = inputs.pairs.enterprise.to_numpy(dtype=object)[pts % n_pairs]
    is_d = np.isin(ents, list(dominant))
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))[pts]
    supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)[pts]
    held = np.nan_to_num(built.permits.T.reshape(-1), nan=0.0)[pts]
    d_pieces, d_caps = _pieces(built, pts[is_d])
    f_pieces, f_caps = _pieces(built, pts[~is_d])
    D, F = Curve(d_pieces, d_caps), Curve(f_pieces, f_caps)
    R = float(base.sum() - supply.sum())
    b_D, a_D = float(base[is_d].sum()), float(held[is_d].sum())
    lo, hi = max(0.0, R - F.max), min(D.max, R)
    if R <= 0 or hi < lo:
        return {"abatement": 0.0 if R <= 0 else None, "price": 0.0, "required": R}
    cands = {lo, hi}
    cands |= {a for a in D.breakpoints() if lo <= a <= hi}
    cands |= {R - a for a in F.breakpoints() if lo <= R - a <= hi}
    grid = sorted(cands)
    for a0, a1 in pairwise(grid):
        if a1 - a0 <= 1e-12 * max(1.0, R):
            continue
        # J is quadratic on (a0, a1): fit it through three interior points and take its vertex
        xs = np.array([a0 + 0.25 * (a1 - a0), a0 + 0.5 * (a1 - a0), a0 + 0.75 * (a1 - a0)])
        ys = np.array([_J(A, D, F, R, b_D, a_D)[0] for A in xs])
        c2, c1, _ = np.polyfit(xs, ys, 2)
        if c2 > 1e-15:
            cands.add(float(min(max(-c1 / (2 * c2), a0), a1)))
    best = min(cands, key=lambda A: (_J(A, D, F, R, b_D, a_D)[0], A))
    value, price = _J(best, D, F, R, b_D, a_D)
    return {
        "abatement": best,
        "price": price,
        "required": R,
        "dominant_baseline": b_D,
        "dominant_permits": a_D,
        "objective": value,
    }


def _J(A: float, D: Curve, F: Curve, R: float, b_D: float, a_D: float) -> tuple[float, float]:
    low, high = F.price_at(R - A)
    position = b_D - A - a_D  # > 0: the coalition buys; < 0: it sells
    if not np.isfinite(high):
        high = max(float(F.vertices[-1, 0]), low)
    price = low if position > 0 else high
    return D.cost(A) + price * position, price


def apply_market_power(built, sol, trade, opts):
    """Impose the coalition's choice in every market where it trades; re-solve; report the loss."""
    from emtrade.model.readout import read_outcome
    from emtrade.solve import solve_problem

    pol = built.policy
    if pol.banking or pol.borrowing > 0 or pol.fee or pol.ratios or pol.weighted:
        raise EmtradeError(
            "market power is solved exactly only without banking, borrowing, transaction fees, trading ratios "
            "and metal exchange; switch those off or drop market.dominant"
        )
    if sol.path.startswith("mi"):
        raise EmtradeError("market power is solved exactly only without lumpy decisions (fixed costs, closures)")
    dominant = set(pol.dominant)
    inputs = built.inputs
    ents = np.tile(inputs.pairs.enterprise.to_numpy(dtype=object), len(inputs.periods))
    markets = sorted({int(m) for m in np.unique(built.market_of[np.isin(ents, list(dominant))]) if m >= 0})
    if not markets:
        raise EmtradeError("market power: the dominant enterprises trade in no capped market")
    competitive_cost = float(trade.cost.sum())
    competitive_price = trade.markets.price.to_numpy().copy()
    rows, cols, vals, targets, report = [], [], [], [], []
    act = built.problem.columns["activity"]
    for k, m in enumerate(markets):
        out = dominant_outcome(built, m, dominant)
        if out["abatement"] is None:
            raise EmtradeError(f"market power: market {built.markets.market.iat[m]} cannot clear")
        pts = np.flatnonzero((built.market_of == m) & np.isin(ents, list(dominant)))
        sub = built.K[pts].tocoo()
        rows.append(np.full(len(sub.data), k))
        cols.append(sub.col + act.start)
        vals.append(sub.data)
        targets.append(out["abatement"])
        report.append(
            {
                "market": str(built.markets.market.iat[m]),
                "pollutant": str(built.markets.pollutant.iat[m]),
                "period": str(built.markets.period.iat[m]),
                "dominant": sorted(set(ents[pts]) & dominant),
                "price": out["price"],
                "competitive_price": float(competitive_price[m]),
                "dominant_abatement": out["abatement"],
                "dominant_emissions": float(
                    np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))[pts].sum()
                    - out["abatement"]
                ),
            }
        )
    index = pd.DataFrame(
        [(r["market"], r["pollutant"], r["period"]) for r in report], columns=["market", "pollutant", "period"]
    )
    t = np.array(targets)
    built.problem.add_rows(
        "dominant",
        index,
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        lower=t,
        upper=t,
        doc="the coalition's abatement, chosen against the fringe",
    )
    interval_rows = np.arange(built.problem.rows["market"].start, built.problem.rows["market"].stop)
    sol2 = solve_problem(built.problem, opts, interval_rows)
    trade2 = read_outcome(built, sol2)
    for r, m in zip(report, markets, strict=True):
        # the price the coalition sets (the fringe's marginal cost at its abatement; the chosen end
        # of the interval where the fringe's supply jumps)
        for col in ("price", "price_low", "price_high"):
            trade2.markets.loc[trade2.markets.index[m], col] = r["price"]
    loss = float(trade2.cost.sum()) - competitive_cost
    summary = {"markets": report, "competitive_total_cost": competitive_cost, "efficiency_loss": loss}
    sol2.notes.append(
        f"market power: {', '.join(sorted(dominant))} set the price in {len(markets)} market(s); "
        f"efficiency loss {loss:,.6g} CNY/yr against the competitive outcome"
    )
    return built, sol2, trade2, summary
