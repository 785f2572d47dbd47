"""Synthetic inputs for the benchmarks, as DataFrames in the columns of a scenario's CSV tables.

Two families, both reproducible from a seed:

- :func:`single_market`: N enterprises discharging one metal (Pb), each with 5 abatement steps
  (kg/yr at CNY/kg) covering 80 % of its baseline, and one cap 30 % below the total baseline,
  traded across the whole city: one market, cleared by merit order.
- :func:`city`: N enterprises of the five sectors discharging one to three of five metals, 5 steps
  per (enterprise, metal), over five periods whose sector caps tighten from 5 % to 25 % below the
  baseline, traded within each sector with banking: one market per sector, metal and period,
  linked across periods by the bank (an LP).

Baselines are log-normal (median 100 kg/yr), step costs rise along each enterprise's curve from a
log-normal first step (median 200 CNY/kg).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECTORS = ("ferrous", "chemicals", "manganese", "zinc", "electroplating")
CITY_METALS = ("Pb", "Cd", "As", "Hg", "Cr")
STEP_SHARES = np.array([0.25, 0.2, 0.15, 0.12, 0.08])  # of the baseline: 80 % in all
STEP_MARKUP = np.array([1.0, 1.6, 2.5, 4.0, 6.5])  # cost of each step relative to the first
PERIODS = ("2021", "2022", "2023", "2024", "2025")
CITY_REDUCTION = (0.05, 0.10, 0.15, 0.20, 0.25)


def _ids(n: int) -> np.ndarray:
    return np.char.add("F", np.char.zfill(np.arange(n).astype(str), 7)).astype(object)


def _steps(rng, ent_idx: np.ndarray, ids: np.ndarray, metal: np.ndarray, baseline: np.ndarray) -> pd.DataFrame:
    """5 steps per (enterprise, metal) row: quantities STEP_SHARES × baseline, costs rising by STEP_MARKUP."""
    n = len(ent_idx)
    first = rng.lognormal(np.log(200.0), 0.8, n)
    return pd.DataFrame(
        {
            "enterprise": np.repeat(ids[ent_idx], 5),
            "kind": "step",
            "pollutant": np.repeat(metal, 5),
            "quantity": (baseline[:, None] * STEP_SHARES[None, :]).reshape(-1),
            "cost": (first[:, None] * STEP_MARKUP[None, :]).reshape(-1),
        }
    )


def single_market(n: int, seed: int = 0) -> dict:
    """Frames for :func:`emtrade.inputs.inputs_from_frames`: N enterprises × 5 steps, one metal, one cap."""
    rng = np.random.default_rng(seed)
    ids = _ids(n)
    baseline = rng.lognormal(np.log(100.0), 1.0, n)
    enterprises = pd.DataFrame(
        {"id": ids, "sector": np.array(SECTORS, dtype=object)[rng.integers(0, 5, n)], "baseline_Pb": baseline}
    )
    options = _steps(rng, np.arange(n), ids, np.full(n, "Pb", dtype=object), baseline)
    caps = pd.DataFrame({"id": ["city-Pb"], "pollutant": ["Pb"], "reduction": [0.3]})
    return {"enterprises": enterprises, "options": options, "caps": caps, "pollutants": ["Pb"], "periods": ["2021"]}


def city(n: int, seed: int = 0) -> dict:
    """Frames for a five-period, five-metal city of N enterprises with sector caps (see the module docstring)."""
    rng = np.random.default_rng(seed)
    ids = _ids(n)
    sector = np.array(SECTORS, dtype=object)[rng.integers(0, 5, n)]
    emits = np.zeros((n, len(CITY_METALS)), dtype=bool)
    n_metals = rng.integers(1, 4, n)
    for k in range(3):  # metals 1..3 per enterprise, without repeats
        pick = rng.integers(0, len(CITY_METALS), n)
        emits[np.arange(n), pick] |= k < n_metals
    emits[np.arange(n), rng.integers(0, len(CITY_METALS), n)] |= ~emits.any(axis=1)
    scale = np.array([100.0, 10.0, 50.0, 1.0, 80.0])  # typical kg/yr of each metal
    baseline = np.where(emits, rng.lognormal(0.0, 1.0, emits.shape) * scale, 0.0)
    enterprises = pd.DataFrame({"id": ids, "sector": sector})
    for j, m in enumerate(CITY_METALS):
        enterprises[f"baseline_{m}"] = baseline[:, j]
    e_idx, m_idx = np.nonzero(emits)
    options = _steps(rng, e_idx, ids, np.array(CITY_METALS, dtype=object)[m_idx], baseline[e_idx, m_idx])
    caps = pd.DataFrame(
        [
            {"id": f"{s}-{m}-{t}", "pollutant": m, "sector": s, "period": t, "reduction": r}
            for s in SECTORS
            for m in CITY_METALS
            for t, r in zip(PERIODS, CITY_REDUCTION, strict=True)
        ]
    )
    return {
        "enterprises": enterprises,
        "options": options,
        "caps": caps,
        "pollutants": list(CITY_METALS),
        "periods": list(PERIODS),
    }
