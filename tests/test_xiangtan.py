"""The bundled Xiangtan scenario, 2016–2020: runs by default, has the promised shape, obeys the invariants.

"The Xiangtan scenario solves over all five periods with every instrument on, and its receptors hold."
Every check below is derived from the scenario's own files (caps, limits, receptors, transfer
coefficients, the reserve and the fines in ``scenario.yaml``) and the run's quantities, not from the
totals emtrade reports about itself.
"""

from __future__ import annotations

import runpy
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SCENARIOS, RunOutput, run_cli

from emtrade.registry import SECTORS

XT = SCENARIOS / "xiangtan"
KEY_ZONES = {"zhubugang", "manganese_mine", "yisuhe", "xianggang", "xiangxiang"}
PERIODS = ["2016", "2017", "2018", "2019", "2020"]
#: files the generator writes (and must reproduce byte for byte)
GENERATED = (
    "enterprises.csv",
    "abatement.csv",
    "caps.csv",
    "zones.csv",
    "limits.csv",
    "receptors.csv",
    "transfer.csv",
    "scenario.yaml",
)
#: kg/yr of slack allowed in a balance (solver tolerances on loads of a few kg to a few t)
TOL = 1e-6


def close_or_below(a, b, rel=1e-7, abs_=1e-6):
    """a ≤ b within solver tolerance (element-wise)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a <= b + abs_ + rel * np.abs(b)


@pytest.fixture(scope="module")
def spec():
    """The scenario's own files, read without emtrade."""
    y = yaml.safe_load((XT / "scenario.yaml").read_text(encoding="utf-8"))
    read = {name: pd.read_csv(XT / f"{name}.csv", dtype={"period": str, "from": str}) for name in
            ("enterprises", "abatement", "caps", "limits", "receptors", "transfer")}  # fmt: skip
    return y, read


@pytest.fixture(scope="module")
def generator():
    """The generator's constants (the sourced and assumed figures the data were built from)."""
    return runpy.run_path(str(XT / "generate.py"))


@pytest.fixture(scope="module")
def xiangtan(tmp_path_factory):
    """``emtrade run`` with no scenario argument, in an empty folder: the bundled Xiangtan scenario."""
    cwd = tmp_path_factory.mktemp("xt")
    proc = run_cli("run", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "results: results/xiangtan" in proc.stdout
    out = RunOutput(cwd / "results" / "xiangtan")
    folder = out.folder
    out.bank = pd.read_csv(folder / "bank.csv", dtype={"period": str})
    out.receptors = pd.read_csv(folder / "receptors.csv", dtype={"period": str})
    out.limits = pd.read_csv(folder / "limits.csv", dtype={"period": str})
    out.options = pd.read_csv(folder / "options.csv", dtype={"period": str})
    return out, proc


# -- the run and the shape ---------------------------------------------------------------------------


def test_default_run_is_the_xiangtan_scenario(xiangtan):
    out, proc = xiangtan
    s = out.summary
    assert s["scenario"].startswith("Xiangtan")
    assert s["status"] == "optimal" and s["cac_status"] == "optimal"
    assert "savings from trading" in proc.stdout
    assert s["periods"] == PERIODS
    assert s["solve_path"] == "milp+fixed-lp"
    # fast enough for a default run on a small machine (docs/data.md reports the measured timings)
    assert s["timings"]["total_s"] < 60


def test_every_instrument_is_on(xiangtan, spec):
    out, _ = xiangtan
    y, _ = spec
    s = out.summary
    assert s["banking"] is True and s["discount_rate"] == pytest.approx(0.08)
    assert s["trading_scope"] == "sector" and s["allocation_method"] == "grandfathering"
    assert set(y["trading"]["no_net_inflow"]) == KEY_ZONES
    assert set(y["trading"]["reserve"]["price"]) == {"Pb", "Cd", "As"}
    assert y["allocation"]["fee"] == {"Pb": 10, "Cd": 30, "As": 13}  # Zhuzhou's paid-use fees (A)
    assert y["trading"]["reserve"]["price"] == {"Pb": 500, "Cd": 600, "As": 500}  # Zhuzhou's prices (A)
    assert {"daily_fine", "kg_per_day"} <= set(y["enforcement"])
    assert y["limits"] == "limits.csv" and y["receptors"] == "receptors.csv" and y["transfer"] == "transfer.csv"
    assert s["reserve_sold"] > 0 and s["allocation_fees"] > 0
    assert len(out.bank) and (out.bank.banked > 1e-6).any()  # permits are banked somewhere


def test_shape_of_the_scenario(xiangtan, spec):
    out, _ = xiangtan
    _, t = spec
    e = out.enterprises
    firms = e.drop_duplicates("enterprise")
    assert 150 <= len(firms) <= 400
    assert set(firms.sector) == set(SECTORS)
    assert set(firms.zone) >= KEY_ZONES
    assert {"Pb", "Cd", "Hg", "As", "Cr6+", "Cr"} <= set(e.pollutant)
    assert set(e.period) == set(PERIODS)
    # caps per sector, metal and period, Pb and Cd tightening every year
    assert set(t["caps"].period) == set(PERIODS)
    for (_, _), g in t["caps"][t["caps"].pollutant.isin(["Pb", "Cd"])].groupby(["sector", "pollutant"]):
        r = g.sort_values("period").reduction.to_numpy()
        assert (np.diff(r) > 0).all()
    # receptors on the main stem and on both tributaries; limits only for enterprises marked backward
    assert set(t["receptors"].info_river) == {"xiangjiang", "juanshui", "lianshui"}
    backward = set(t["enterprises"].id[t["enterprises"].info_backward])
    assert len(t["limits"]) and set(t["limits"].enterprise) <= backward
    assert set(t["limits"]["from"]) == {"2017"}


def test_polishing_requires_the_treatment_beneath_it(spec, generator):
    """Where a firm has a stage-1 upgrade of a treatment line, that line's polishing requires it."""
    _, t = spec
    a = t["abatement"]
    lines = dict(generator["TREATMENT_LINES"])
    names = {(spec_["stage1"], spec_["stage2"]) for spec_ in lines.values()}
    for arch in generator["ARCHETYPES"]:
        names |= set(arch.line_names.values())
    tech = a[a.kind == "technology"]
    checked = 0
    for firm, g in tech.groupby("enterprise"):
        have = set(g.name)
        for stage1, stage2 in names:
            if stage1 in have and stage2 in have:
                assert g.loc[g.name == stage2, "requires"].iloc[0] == stage1, (firm, stage2)
                checked += 1
    assert checked > 20
    # every prerequisite names a technology of the same firm
    for firm, g in tech[tech.requires.notna()].groupby("enterprise"):
        assert set(g.requires) <= set(tech.name[tech.enterprise == firm])


def test_prerequisites_hold_in_the_solution(xiangtan, spec):
    out, _ = xiangtan
    _, t = spec
    a = t["abatement"]
    req = a[a.requires.notna()][["enterprise", "name", "requires"]]
    o = out.options[out.options.kind == "technology"][["enterprise", "name", "period", "level"]]
    m = req.merge(o, on=["enterprise", "name"]).merge(
        o.rename(columns={"name": "requires", "level": "level_req"}), on=["enterprise", "requires", "period"]
    )
    assert len(m) == len(req) * len(PERIODS)
    assert close_or_below(m.level, m.level_req, abs_=1e-7).all()


# -- permits, caps, banking and the reserve ----------------------------------------------------------


def _market_table(out):
    """Per (sector market, metal, period): emissions, permits held, excess, from the enterprises' rows."""
    e = out.enterprises[out.enterprises.market.notna()]
    return e.groupby(["market", "pollutant", "period"], as_index=False)[["emissions", "allocation", "excess"]].sum()


def test_allocation_stays_within_the_caps(xiangtan, spec, generator):
    """Σ permits given in a sector ≤ its cap; allocated caps + the whole reserve = the plan's cap."""
    out, _ = xiangtan
    y, t = spec
    base = t["enterprises"]
    caps = t["caps"]
    m = _market_table(out)
    reserve = y["trading"]["reserve"]["quantity"]
    for c in caps.itertuples():
        sector_base = base.loc[base.sector == c.sector, f"baseline_{c.pollutant}"].fillna(0).sum()
        total = (1 - c.reduction) * sector_base
        given = m.loc[(m.market == c.sector) & (m.pollutant == c.pollutant) & (m.period == c.period), "allocation"]
        assert close_or_below(given.sum(), total)
    # per metal and period: the sectors' caps plus the reserve give back the plan's cut of the city baseline
    path = generator["CAP_PATH"]
    for metal, q in reserve.items():
        city = base[f"baseline_{metal}"].fillna(0).sum()
        for k, period in enumerate(PERIODS):
            sub = caps[(caps.pollutant == metal) & (caps.period == period)]
            capped = sum(
                (1 - r) * base.loc[base.sector == s, f"baseline_{metal}"].fillna(0).sum()
                for s, r in zip(sub.sector, sub.reduction, strict=True)
            )
            assert capped + q == pytest.approx((1 - path[metal][k]) * city, rel=1e-3)


def test_banked_permits_cover_the_cumulative_excess_over_allocation(xiangtan):
    """With banking a period's permits can be exceeded by permits banked earlier; cumulatively,
    Σ_{s≤t} emissions ≤ Σ_{s≤t} (permits + reserve sold + penalised excess), every market, every t."""
    out, _ = xiangtan
    m = _market_table(out).merge(
        out.prices[["market", "pollutant", "period", "reserve_sold"]], on=["market", "pollutant", "period"]
    )
    for _, g in m.groupby(["market", "pollutant"]):
        g = g.sort_values("period")
        used = np.cumsum(g.emissions)
        available = np.cumsum(g.allocation + g.reserve_sold + g.excess)
        assert close_or_below(used, available, rel=1e-7, abs_=1e-5).all()


def test_market_balance_with_the_bank(xiangtan):
    """Σ net purchases in a market = reserve sold + permits taken from the bank − permits put in (≤ where
    the price is zero: unused permits stay unused)."""
    out, _ = xiangtan
    e = out.enterprises[out.enterprises.market.notna()]
    net = e.groupby(["market", "pollutant", "period"]).net_purchase.sum()
    p = out.prices.set_index(["market", "pollutant", "period"])
    bank = out.bank.set_index(["market", "pollutant", "period"]).banked
    for (mk, pol, period), n in net.items():
        k = PERIODS.index(period)
        b_in = bank.get((mk, pol, PERIODS[k - 1]), 0.0) if k else 0.0
        b_out = bank.get((mk, pol, period), 0.0)
        supply = p.at[(mk, pol, period), "reserve_sold"] + b_in - b_out
        scale = max(1.0, e.loc[(e.market == mk) & (e.pollutant == pol), "baseline"].max())
        assert n <= supply + 1e-6 * scale
        if p.at[(mk, pol, period), "price"] > 1e-6:
            assert n == pytest.approx(supply, abs=1e-6 * scale)
    assert (out.bank.banked >= -1e-9).all()  # banking, no borrowing


def test_prices_and_hotelling(xiangtan):
    """Prices ≥ 0 and within their intervals; with banking, current prices rise at most by the discount
    rate, p_{t+1} ≤ (1 + r) p_t, and exactly by it where the bank is positive (Hotelling)."""
    out, _ = xiangtan
    p = out.prices
    r = out.summary["discount_rate"]
    assert (p.price >= 0).all()
    assert ((p.price_low <= p.price + 1e-9) & (p.price <= p.price_high + 1e-9)).all()
    bank = out.bank.set_index(["market", "pollutant", "period"]).banked
    positive = 0
    for (mk, pol), g in p.groupby(["market", "pollutant"]):
        g = g.set_index("period").loc[PERIODS]
        for a, b in pairwise(PERIODS):
            grow = (1 + r) ** (int(b) - int(a))
            assert g.at[b, "price_low"] <= grow * g.at[a, "price_high"] * (1 + 1e-7) + 1e-6, (mk, pol, a)
            if bank.get((mk, pol, a), 0.0) > 1e-6 and g.at[a, "price"] > 1e-6:
                assert g.at[b, "price"] == pytest.approx(grow * g.at[a, "price"], rel=1e-6), (mk, pol, a)
                positive += 1
    assert positive >= 3  # the Hotelling path is seen, not assumed


def test_the_reserve(xiangtan, spec):
    """The reserve never sells more than its quantity per metal and period, sells only at or above its
    price, and sells nothing where the market price is below it; what it sells earns the market price."""
    out, _ = xiangtan
    y, _ = spec
    res = y["trading"]["reserve"]
    p = out.prices
    sold = p.groupby(["pollutant", "period"]).reserve_sold.sum()
    for (metal, _), q in sold.items():
        assert q <= res["quantity"].get(metal, 0.0) * (1 + 1e-9) + 1e-9
    for row in p.itertuples():
        trigger = res["price"].get(row.pollutant)
        if trigger is None:
            assert row.reserve_sold == 0
        elif row.reserve_sold > 1e-6:
            assert row.price >= trigger * (1 - 1e-7)
        elif row.price < trigger * (1 - 1e-7):
            assert row.reserve_sold <= 1e-6
    revenue = sum(row.reserve_sold * row.price for row in p.itertuples())
    assert revenue >= sum(row.reserve_sold * res["price"].get(row.pollutant, 0.0) for row in p.itertuples())
    assert out.summary["reserve_revenue"] == pytest.approx(revenue, rel=1e-9, abs=1e-6)


def test_daily_fines(xiangtan, spec):
    """The daily fine per kg (daily_fine / kg_per_day) caps every price; where discharge exceeds permits,
    the price is the fine."""
    out, _ = xiangtan
    y, _ = spec
    enf = y["enforcement"]
    fine = {m: enf["daily_fine"] / d for m, d in enf["kg_per_day"].items()}
    for row in out.prices.itertuples():
        assert row.price <= fine[row.pollutant] * (1 + 1e-7)
        if row.excess > 1e-6:
            assert row.price == pytest.approx(fine[row.pollutant], rel=1e-6)
    e = out.enterprises
    expected = sum(fine.get(p, 0.0) * x for p, x in zip(e.pollutant, e.excess, strict=True))
    assert out.summary["penalties"] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_paid_allocation(xiangtan, spec):
    out, _ = xiangtan
    y, _ = spec
    fee = y["allocation"]["fee"]
    e = out.enterprises
    expected = sum(fee.get(p, 0.0) * a for p, a in zip(e.pollutant, e.allocation.fillna(0.0), strict=True))
    assert out.summary["allocation_fees"] == pytest.approx(expected, rel=1e-9)
    s = out.summary
    assert s["government_revenue"] == pytest.approx(
        s["reserve_revenue"] + s["allocation_fees"] + s["penalties"], rel=1e-9
    )


# -- the physical policy: firm limits, key zones, receptors, phase-out -----------------------------------


def test_firm_limits_hold_from_their_deadline(xiangtan, spec):
    out, _ = xiangtan
    _, t = spec
    e = out.enterprises.set_index(["enterprise", "pollutant", "period"]).emissions
    before = 0
    for lim in t["limits"].rename(columns={"from": "deadline"}).itertuples():
        for period in PERIODS:
            em = e[(lim.enterprise, lim.pollutant, period)]
            if int(period) >= int(lim.deadline):
                assert close_or_below(em, lim.limit)
            elif em > lim.limit * (1 + 1e-6):
                before += 1
    # the deadline matters: before it, permits still cover some backward firms' breach of the standard
    assert before > 0


def test_no_net_inflow_into_the_key_zones(xiangtan):
    """In each key zone, metal and period, the zone discharges no more than the permits given to it."""
    out, _ = xiangtan
    e = out.enterprises[out.enterprises.market.notna() & out.enterprises.zone.isin(KEY_ZONES)]
    g = e.groupby(["zone", "pollutant", "period"])[["emissions", "allocation"]].sum()
    assert close_or_below(g.emissions, g.allocation).all()
    # and the rule binds somewhere (a key zone holding permits that would otherwise buy)
    held = g[g.allocation > 0]
    assert (held.emissions >= held.allocation - 1e-6 * np.maximum(1, held.allocation)).sum() >= 5


def test_receptors_hold(xiangtan, spec):
    """Each receptor's load Σ_zone coefficient × the zone's discharge ≤ its limit in every period; the
    limit is the GB 3838 headroom (class limit − background) × 31,557.6 × design flow; one binds."""
    out, _ = xiangtan
    _, t = spec
    rec, tr = t["receptors"], t["transfer"]
    # the limits are the class headroom at the design flow (from the documented flows and backgrounds)
    kg_per_mg_l_m3_s = 1000 * 365.25 * 86400 / 1e6
    headroom = (rec.info_class_limit_mg_l - rec.background) * kg_per_mg_l_m3_s * rec.flow
    np.testing.assert_allclose(rec.limit, headroom, rtol=2e-4)
    assert set(rec.water_class) == {"II", "III"}
    assert (tr.coefficient > 0).all() and (tr.coefficient <= 1).all()
    zone_em = out.enterprises.groupby(["zone", "pollutant", "period"]).emissions.sum()
    limit = rec.set_index("id").limit
    metal = rec.set_index("id").pollutant
    binding = set()
    for period in PERIODS:
        load = {}
        for row in tr.itertuples():
            load[row.receptor] = load.get(row.receptor, 0.0) + row.coefficient * zone_em.get(
                (row.zone, metal[row.receptor], period), 0.0
            )
        for rid, value in load.items():
            assert close_or_below(value, limit[rid], rel=1e-7, abs_=1e-7), (rid, period)
            if value >= limit[rid] * (1 - 1e-6):
                binding.add(rid)
        # the run's own loads agree
        got = out.receptors[out.receptors.period == period].set_index("receptor").load
        for rid, value in load.items():
            assert got[rid] == pytest.approx(value, rel=1e-6, abs=1e-9)
    assert binding  # at least one receptor binds (the Juanshui at Yisuhe, for Hg, in the dry season)
    assert out.summary["worst_receptor_margin"] >= -1e-7
    # concentrations: background + load / (31,557.6 Q) within the class limit
    r = out.receptors.merge(rec.rename(columns={"id": "receptor"}), on=["receptor", "pollutant"])
    conc = r.background + r.load / (kg_per_mg_l_m3_s * r.flow)
    assert close_or_below(conc, r.info_class_limit_mg_l, rel=2e-4, abs_=0).all()
    # and the run reports the same concentrations, beside the class limits of the registry
    np.testing.assert_allclose(r.concentration_mg_l, conc, rtol=1e-6)
    np.testing.assert_allclose(r.class_limit_mg_l, r.info_class_limit_mg_l)


def test_phase_out_enterprises_close(xiangtan, spec):
    out, _ = xiangtan
    y, _ = spec
    e = out.enterprises[out.enterprises.enterprise.isin(y["phase_out"])]
    assert len(e) and (e.emissions.abs() <= 1e-9).all() and (e.allocation.fillna(0) == 0).all()


# -- money ------------------------------------------------------------------------------------------


def test_costs_and_savings(xiangtan):
    out, _ = xiangtan
    s = out.summary
    assert s["total_cost"] <= s["cac_total_cost"]
    assert s["savings"] == pytest.approx(s["cac_total_cost"] - s["total_cost"], rel=1e-9)
    # total cost is the sum of the enterprises' abatement costs; its present value discounts each year
    e = out.enterprises
    assert e.abatement_cost.sum() == pytest.approx(s["total_cost"], rel=1e-9)
    r = s["discount_rate"]
    by_year = e.groupby("period").abatement_cost.sum()
    pv = sum(c / (1 + r) ** (int(p) - 2016) for p, c in by_year.items())
    assert s["total_cost_pv"] == pytest.approx(pv, rel=1e-9)
    # permit payments between firms cancel out: what buyers pay beyond sellers' receipts in a market is
    # the price of the permits the government or the bank supplied
    p = out.prices.set_index(["market", "pollutant", "period"])
    pay = e[e.market.notna()].groupby(["market", "pollutant", "period"]).permit_cost.sum()
    net = e[e.market.notna()].groupby(["market", "pollutant", "period"]).net_purchase.sum()
    for key, v in pay.items():
        assert v == pytest.approx(p.at[key, "price"] * net[key], rel=1e-9, abs=1e-6)


def test_generator_reproduces_the_committed_files(tmp_path):
    module = runpy.run_path(str(XT / "generate.py"))
    module["main"](out=tmp_path)
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (XT / name).read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(GENERATED)
