"""Re-expressing a scenario in another unit of mass: the same economics, other numbers.

With masses measured in a unit worth 1/f kg (f = 1000: grams), every quantity is ×f, every price
per unit of mass ÷f and every slope of a marginal-cost curve (CNY per unit of mass per unit of
mass) ÷f². Money per year is unchanged. The optimal cost is then the same, quantities come back ×f
and prices ÷f: a solver that answers otherwise depends on the units.
"""

from __future__ import annotations

import copy


def _per_metal(value, factor, metals):
    """A number or a per-metal mapping, ×factor for the metals rescaled."""
    if value is None or value == "":
        return value
    if isinstance(value, dict):
        return {k: (float(v) * factor if (metals is None or k in metals) else v) for k, v in value.items()}
    return float(value) * factor if metals is None else value


def in_mass_unit(raw: dict, factor: float, metals: set[str] | None = None) -> dict:
    """``raw`` (a scenario mapping) with the mass of ``metals`` (default: all) in a unit of 1/factor kg.

    A scalar per-kg setting (one price for every metal) is rescaled only when every metal is.
    """
    raw = copy.deepcopy(raw)
    f = float(factor)

    def mine(metal) -> bool:
        return metals is None or metal in metals

    for e in raw["enterprises"]:
        for key in ("baseline", "history", "allocation", "limit"):
            if e.get(key):
                e[key] = _per_metal(e[key], f, metals)
    for row in raw.get("abatement") or []:
        if row["kind"] == "step" and mine(row["pollutant"]):
            row["quantity"] = float(row["quantity"]) * f
            row["cost"] = float(row["cost"]) / f
        elif row["kind"] == "linear" and mine(row["pollutant"]):
            row["slope"] = float(row["slope"]) / f**2
            if row.get("intercept") not in (None, ""):
                row["intercept"] = float(row["intercept"]) / f
            if row.get("max") not in (None, ""):
                row["max"] = float(row["max"]) * f
    for cap in raw.get("caps") or []:
        if mine(cap.get("pollutant")) and cap.get("total") not in (None, ""):
            cap["total"] = float(cap["total"]) * f
    for row in raw.get("limits") or []:
        if mine(row["pollutant"]):
            row["limit"] = float(row["limit"]) * f
    rescaled_receptors = set()
    for row in raw.get("receptors") or []:
        if mine(row["pollutant"]):
            if row.get("flow") not in (None, ""):
                row["limit"] = float(row["limit"]) * f  # a load in kg/yr
            else:
                rescaled_receptors.add(row["id"])  # a limit in the coefficients' unit: coefficients ÷f
    for row in raw.get("transfer") or []:
        if row["receptor"] in rescaled_receptors:
            row["coefficient"] = float(row["coefficient"]) / f
    trading = raw.get("trading") or {}
    for key in ("price_ceiling", "price_floor", "fee"):
        if trading.get(key) is not None:
            trading[key] = _per_metal(trading[key], 1 / f, metals)
    if trading.get("reserve"):
        trading["reserve"]["price"] = _per_metal(trading["reserve"]["price"], 1 / f, metals)
        trading["reserve"]["quantity"] = _per_metal(trading["reserve"]["quantity"], f, metals)
    if not isinstance(trading.get("borrowing"), bool) and trading.get("borrowing") is not None and metals is None:
        trading["borrowing"] = float(trading["borrowing"]) * f
    allocation = raw.get("allocation") or {}
    if allocation.get("fee") is not None:
        allocation["fee"] = _per_metal(allocation["fee"], 1 / f, metals)
    for sector, per_metal in (allocation.get("benchmarks") or {}).items():
        allocation["benchmarks"][sector] = _per_metal(per_metal, f, metals)
    enforcement = raw.get("enforcement") or {}
    if enforcement.get("penalty") is not None:
        enforcement["penalty"] = _per_metal(enforcement["penalty"], 1 / f, metals)
    if enforcement.get("kg_per_day") is not None:
        enforcement["kg_per_day"] = _per_metal(enforcement["kg_per_day"], f, metals)
    return raw
