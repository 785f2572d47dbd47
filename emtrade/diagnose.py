"""Why a policy cannot be met: an elastic relaxation of the caps.

Every market row and cap row gets an elastic slack s_r ≥ 0 (kg/yr of extra discharge allowed):

    minimise Σ_r s_r   subject to   (row r) − s_r ≤ rhs_r,  everything else unchanged.

The optimum is the least total shortfall (kg/yr) that would make the scenario feasible; the rows
with a positive slack are the constraints that conflict with what the enterprises can abate
(their options, their baselines, the phase-out list).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from emtrade.allocation import Allocation
from emtrade.inputs import Inputs


def explain_infeasibility(inputs: Inputs, alloc: Allocation, policy) -> str:
    """A one-paragraph explanation: the least total shortfall and the constraints that carry it."""
    from emtrade.model.build import build_model
    from emtrade.solve import HighsBackend, SolveOptions

    built = build_model(inputs, alloc, policy)
    prob = built.problem
    a = prob.arrays()
    elastic = []
    labels = []
    for family in ("market", "cap", "firm_limit", "receptor", "no_net_inflow"):
        blk = prob.rows.get(family)
        if blk is None:
            continue
        for k in range(len(blk)):
            row = blk.index.iloc[k]
            elastic.append(blk.start + k)
            when = f"({row['pollutant']}, period {row['period']})"
            if family == "market":
                feeding = [c.cap for c in built.caps.itertuples() if k in set(c.market_rows.tolist())]
                name = f"cap {', '.join(feeding)}" if feeding else f"the permits of market '{row['market']}'"
                labels.append(f"{name} {when}")
            elif family == "cap":
                labels.append(f"cap {row['cap']} {when}")
            elif family == "firm_limit":
                labels.append(f"the limit of enterprise {row['enterprise']} {when}")
            elif family == "receptor":
                labels.append(f"receptor {row['receptor']} {when}")
            else:
                labels.append(f"no net inflow into zone {row['zone']} {when}")
    if not elastic:
        return "the scenario is infeasible, but no cap or market can be relaxed to explain it"
    n, m, k = a["A"].shape[1], a["A"].shape[0], len(elastic)
    S = sp.csc_matrix((-np.ones(k), (np.array(elastic), np.arange(k))), shape=(m, k))
    arrays = {
        "A": sp.hstack([a["A"], S], format="csc"),
        "col_lower": np.concatenate([a["col_lower"], np.zeros(k)]),
        "col_upper": np.concatenate([a["col_upper"], np.full(k, np.inf)]),
        "col_cost": np.concatenate([np.zeros(n), np.ones(k)]),
        "col_quad": np.zeros(n + k),
        "col_integer": np.concatenate([a["col_integer"], np.zeros(k, dtype=bool)]),
        "row_lower": a["row_lower"],
        "row_upper": a["row_upper"],
    }
    run = HighsBackend(arrays, SolveOptions()).run()
    if run.x is None:
        return "the scenario is infeasible even with every cap relaxed: check forced closures and limits"
    slack = run.x[n:]
    total = float(slack.sum())
    short = [(labels[i], slack[i]) for i in np.argsort(-slack) if slack[i] > 1e-7 * max(1.0, total)]
    parts = "; ".join(
        f"{lab} short by {val:.6g}" + (" kg/yr" if "receptor" not in lab else "") for lab, val in short[:10]
    )
    more = f"; and {len(short) - 10} more" if len(short) > 10 else ""
    return (
        f"the caps cannot all be met: the enterprises cannot abate enough. Least total shortfall "
        f"{total:.6g} kg/yr: {parts}{more}"
    )
