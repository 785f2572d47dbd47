"""Solved outcomes (the market run and command-and-control) → the tidy tables of :class:`Results`.

Money: ``abatement_cost`` is the resource cost of the options used (CNY/yr, undiscounted);
``permit_cost`` what an enterprise pays for permits bought (negative: earns for permits sold) at
the market price; ``fee_paid`` transaction fees; ``penalty`` what it pays for discharge beyond its
permits; ``allocation_fee`` the paid-use fee on its free permits. ``total_cost`` sums the resource
cost over periods; transfers (permit payments, fees, penalties, government sales) are reported
beside it, never in it. ``total_cost_pv`` is the same discounted to the first period.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pandas as pd

from emtrade.model.build import Built, map_distinct
from emtrade.model.readout import Outcome
from emtrade.results import UNITS, Results

ENTERPRISE_COLUMNS = [
    "enterprise", "sector", "zone", "pollutant", "period", "baseline", "allocation", "emissions", "abatement",
    "net_purchase", "abatement_cost", "permit_cost", "market", "price", "excess", "penalty", "fee_paid",
    "allocation_fee", "cac_emissions", "cac_abatement_cost",
]  # fmt: skip
PRICE_COLUMNS = [
    "market", "pollutant", "period", "price", "price_low", "price_high", "permits", "emissions", "baseline",
    "bought", "ceiling_sold", "reserve_sold", "withheld", "excess", "fees",
]  # fmt: skip
CAP_COLUMNS = [
    "cap", "pollutant", "period", "sector", "zone", "role", "total", "baseline", "emissions", "shadow_price",
    "binding", "implied_by",
]  # fmt: skip


def assemble(sc, inputs, alloc, built: Built, sol, trade: Outcome, cac: Outcome | None, cac_status, cac_notes,
             timings, opts, market_power=None) -> Results:  # fmt: skip
    pol = built.policy
    n_t, n_pairs = len(inputs.periods), len(inputs.pairs)
    pairs, ent = inputs.pairs, inputs.enterprises
    periods = np.array(inputs.periods, dtype=object)
    held = built.permits.T.reshape(-1)  # (pair, period) → t·|pairs| + pair
    covered = built.market_of >= 0
    prices = trade.markets
    w = built.weight
    market_price = np.zeros(n_pairs * n_t)  # CNY per commodity unit
    market_label = np.full(n_pairs * n_t, "", dtype=object)
    if len(prices):
        market_price[covered] = prices.price.to_numpy()[built.market_of[covered]]
        market_label[covered] = prices.market.to_numpy(dtype=object)[built.market_of[covered]]
    excess = trade.excess
    fee_form = ~np.isnan(trade.bought)
    net = np.where(covered, trade.emissions - np.nan_to_num(held) - excess, 0.0)
    net = np.where(fee_form, np.nan_to_num(trade.bought) - np.nan_to_num(trade.sold), net)
    pollutant = np.tile(pairs.pollutant.to_numpy(dtype=object), n_t)
    penalty_rate = map_distinct(pollutant, lambda p: pol.penalty.get(pol.commodity(p), 0.0), float) * w
    alloc_fee_rate = map_distinct(pollutant, lambda p: pol.allocation_fee.get(p, 0.0), float)
    e_idx = np.tile(pairs.ent.to_numpy(), n_t)
    enterprises = pd.DataFrame(
        {
            "enterprise": np.tile(pairs.enterprise.to_numpy(dtype=object), n_t),
            "sector": ent.sector.to_numpy(dtype=object)[e_idx],
            "zone": ent.zone.to_numpy(dtype=object)[e_idx],
            "pollutant": pollutant,
            "period": np.repeat(periods, n_pairs),
            "baseline": np.tile(pairs.baseline.to_numpy(dtype=float), n_t),
            "allocation": held,
            "emissions": trade.emissions,
            "abatement": trade.abatement,
            "net_purchase": net,
            "abatement_cost": trade.cost,
            # buyers pay the market price per commodity unit: w_p CNY... per kg for PE markets
            "permit_cost": market_price * w * net,
            "market": market_label,
            "price": np.where(covered, market_price * w, np.nan),
            "excess": excess,
            "penalty": penalty_rate * excess,
            "fee_paid": trade.fee_paid,
            "allocation_fee": alloc_fee_rate * np.nan_to_num(held),
            "cac_emissions": cac.emissions if cac is not None else np.nan,
            "cac_abatement_cost": cac.cost if cac is not None else np.nan,
        }
    )[ENTERPRISE_COLUMNS]
    cac_penalty = np.zeros(n_pairs * n_t)
    if cac is not None:
        cac_penalty_of = pol.command_and_control().penalty
        cac_rate = map_distinct(pollutant, lambda p: cac_penalty_of.get(p, 0.0), float)
        cac_penalty = cac_rate * cac.excess
    enterprises["_cac_total"] = (enterprises.cac_abatement_cost + cac_penalty) if cac is not None else np.nan
    firms = (
        enterprises.groupby(["enterprise", "period"], sort=False)
        .agg(
            sector=("sector", "first"),
            zone=("zone", "first"),
            abatement_cost=("abatement_cost", "sum"),
            permit_cost=("permit_cost", "sum"),
            penalty=("penalty", "sum"),
            fee_paid=("fee_paid", "sum"),
            allocation_fee=("allocation_fee", "sum"),
            cac_cost=("_cac_total", "sum"),
        )
        .reset_index()
    )
    enterprises = enterprises.drop(columns="_cac_total")
    if cac is None:
        firms["cac_cost"] = np.nan
    firms["net_cost"] = firms.abatement_cost + firms.permit_cost + firms.penalty + firms.fee_paid
    firms["savings"] = firms.cac_cost - firms.net_cost
    firms = firms[["enterprise", "sector", "zone", "period", "abatement_cost", "permit_cost", "penalty", "fee_paid",
                   "allocation_fee", "net_cost", "cac_cost", "savings"]]  # fmt: skip

    bought = np.bincount(built.market_of[covered], weights=np.maximum(net * w, 0.0)[covered], minlength=len(prices))
    prices = prices.assign(bought=bought)[PRICE_COLUMNS]
    caps = trade.caps
    if len(caps):
        # binding: met with equality (a cap exceeded with banked permits or a ceiling does not bind)
        tol = 1e-6 * np.maximum(1.0, caps.total)
        caps = caps.assign(binding=(caps.emissions - caps.total).abs() <= tol)[CAP_COLUMNS]
    else:
        caps = pd.DataFrame(columns=CAP_COLUMNS)

    total_cost = float(trade.cost.sum())
    delta_pt = np.repeat(built.discount, n_pairs)
    total_pv = float((trade.cost * delta_pt).sum())
    cac_total = float(cac.cost.sum()) if cac is not None else None
    per_firm = firms.groupby("enterprise", sort=False).savings.sum()
    worse_off = sorted(per_firm.index[per_firm < -1e-6 * max(1.0, float(abs(per_firm).max()))].tolist())
    notes = list(sol.notes) + list(cac_notes)
    if worse_off:
        why = (
            ": with lumpy decisions (fixed costs, closures) the prices of the continuous problem do not repay "
            "every fixed cost (non-convex markets have no clearing prices that do)"
            if sol.path.startswith("mi")
            else ""
        )
        notes.append(f"{len(worse_off)} enterprises pay more with trading than under command-and-control{why}; "
                     "see firms_worse_off")  # fmt: skip
    auction = alloc.method == "auction"
    # the government sells at the clearing price: the auctioned permits (all issued but those withheld
    # at the floor), and reserve and ceiling permits (the trigger price is a floor of that sale, so a
    # reserve that runs out earns its scarcity rent, as in RGGI's cost containment reserve)
    auction_revenue = float((prices.price * (prices.permits - prices.withheld)).sum()) if auction else 0.0
    ceiling_revenue = float((prices.price * prices.ceiling_sold).sum())
    reserve_revenue = float((prices.price * prices.reserve_sold).sum())
    allocation_fees = float(enterprises.allocation_fee.sum())
    penalties = float(enterprises.penalty.sum())
    fees_paid = float(enterprises.fee_paid.sum())
    price_records = [
        {k: (r[k] if not isinstance(r[k], float) or np.isfinite(r[k]) else None)
         for k in ("market", "pollutant", "period", "price", "price_low", "price_high")}
        for r in prices.to_dict("records")
    ]  # fmt: skip
    e_all = np.tile(pairs.pollutant.to_numpy(), n_t)
    summary = {
        "scenario": sc.name,
        "status": sol.status,
        "total_cost": total_cost,
        "cac_total_cost": cac_total,
        "savings": None if cac_total is None else cac_total - total_cost,
        # a share of a negative cost (process changes that pay) means nothing: only for positive CAC costs
        "savings_share": (cac_total - total_cost) / cac_total if cac_total and cac_total > 0 else None,
        "total_cost_pv": total_pv,
        "prices": price_records,
        "emissions": {p: float(trade.emissions[e_all == p].sum()) for p in inputs.pollutants},
        "baseline": {p: float(np.tile(pairs.baseline.to_numpy(), n_t)[e_all == p].sum()) for p in inputs.pollutants},
        # kg of metal bought (from other firms, the government or other zones), over all markets
        "permits_traded": float(np.maximum(np.where(covered, net, 0.0), 0.0).sum()),
        "government_revenue": auction_revenue + ceiling_revenue + reserve_revenue + allocation_fees + penalties,
        "auction_revenue": auction_revenue,
        "ceiling_sold": float(prices.ceiling_sold.sum()),
        "reserve_sold": float(prices.reserve_sold.sum()),
        "reserve_revenue": reserve_revenue,
        "ceiling_revenue": ceiling_revenue,
        "unsold": float(prices.withheld.sum()),
        "allocation_fees": allocation_fees,
        "penalties": penalties,
        "excess": float(enterprises.excess.sum()),
        "fees_paid": fees_paid,
        "allocation_method": alloc.method,
        "trading_scope": pol.scope,
        "exchange": pol.exchange,
        "banking": pol.banking,
        "discount_rate": sc.spec.trading.discount_rate
        if sc.spec.trading.discount_rate is not None
        else sc.spec.discount_rate,
        "cac_penalties": float(cac_penalty.sum()),
        "cac_status": cac_status,
        "cac_basis": alloc.cac_basis,
        "solve_path": sol.path,
        "mip_gap": sol.mip_gap,
        "market_power": market_power,
        "periods": list(inputs.periods),
        "pollutants": list(inputs.pollutants),
        "n_enterprises": len(ent),
        "n_options": len(inputs.options),
        "model": built.problem.summary(),
        "firms_worse_off": worse_off,
        "notes": notes,
        "warnings": list(sc.warnings) + _scope_warnings(built),
        "units": UNITS,
        "options": dict(opts.__dict__),
        "versions": _versions(),
        "input_hashes": dict(sc.input_hashes),
        "timings": timings,
    }
    receptors = _with_concentrations(trade.receptors, getattr(sc, "river", None), inputs.pollutants)
    if len(receptors):
        margin = (receptors.limit - receptors.load) / receptors.limit.where(receptors.limit > 0)
        summary["worst_receptor_margin"] = float(margin.min()) if margin.notna().any() else None
    return Results(
        summary=summary,
        enterprises=enterprises,
        firms=firms,
        prices=prices,
        caps=caps,
        options=trade.options,
        abatement=trade.abatement_long,
        bank=trade.bank,
        receptors=receptors,
        flows=trade.flows,
        limits=trade.limits,
    )


def _with_concentrations(receptors: pd.DataFrame, river, pollutants) -> pd.DataFrame:
    """The concentration at each river receptor (mg/L) where its design flow is known:

        C = C0 + load / (31,557.6 · Q)

    with the load the kg/yr arriving at the section, Q its design flow (m³/s) and C0 its background
    (0 if not given); beside it the GB 3838 limit of the section's class. Receptors derived from a
    ``river:`` description take section, class, flow and background from it.
    """
    if receptors.empty:
        return receptors
    from emtrade.registry import GB3838_CLASSES, METALS, gb3838_limit
    from emtrade.river import load_to_concentration

    out = receptors.copy()
    if river is not None:
        details = river.receptor_details([p for p in pollutants if p in METALS]).set_index("id")
        d = details.reindex(out.receptor)
        known = out.receptor.isin(details.index).to_numpy()
        out["section"] = np.where(known, d.section.to_numpy(dtype=object), out.section.to_numpy(dtype=object))
        out["water_class"] = np.where(known, d.water_class.to_numpy(dtype=object),
                                      out.water_class.to_numpy(dtype=object))
        out["flow_m3_s"] = np.where(known, d.flow.to_numpy(dtype=float), out.flow_m3_s.to_numpy(dtype=float))
        out["background_mg_l"] = np.where(known, d.background.to_numpy(dtype=float),
                                          out.background_mg_l.to_numpy(dtype=float))
    flow = out.flow_m3_s.to_numpy(dtype=float)
    background = np.nan_to_num(out.background_mg_l.to_numpy(dtype=float), nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["concentration_mg_l"] = np.where(
            np.isfinite(flow), background + load_to_concentration(out.load.to_numpy(dtype=float), flow), np.nan
        )
    out["class_limit_mg_l"] = [
        gb3838_limit(p, c) if p in METALS and c in GB3838_CLASSES and gb3838_limit(p, c) is not None else np.nan
        for p, c in zip(out.pollutant, out.water_class, strict=True)
    ]
    return out


def _scope_warnings(built: Built) -> list[str]:
    """Allocating caps that cut through a market hold as limits: permits cannot cross them. Say so."""
    caps = built.caps
    if caps.empty or built.policy.scope == "none":
        return []
    cut = caps[(caps.role == "allocate") & (caps.row >= 0)]
    if cut.empty:
        return []
    names = ", ".join(sorted(set(cut.cap)))[:200]
    return [
        f"caps {names} each hold as a limit inside a wider '{built.policy.scope}' market: permits cannot move "
        "across them (use a trading scope that matches the caps, or one cap over the market's scope)"
    ]


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("emtrade", "pyomo", "highspy", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out
