"""The scenario's ``uncertainty:`` section: random multipliers for Monte Carlo sweeps.

Each entry draws a dimensionless multiplier m ≥ 0 from a distribution and multiplies a group of
numbers of the scenario by it::

    uncertainty:
      - {name: mac-zinc, target: step_cost, sector: zinc, distribution: lognormal, sigma: 0.3}
      - {target: slope, enterprise: F1, distribution: uniform, low: 0.8, high: 1.25}
      - {target: technology_cost, distribution: triangular, low: 0.7, mode: 1, high: 1.6, per: enterprise}
      - {target: baseline, pollutant: Cd, distribution: lognormal, median: 1, sigma: 0.1}

Targets (what m multiplies; the units of the numbers are unchanged):

``slope``            the slope of linear MACs (CNY/kg per kg/yr); the intercept stays.
``step_cost``        the cost of MAC steps (CNY/kg); a negative step cost stays negative.
``technology_cost``  a technology's running cost and its fixed cost (CNY/yr).
``baseline``         enterprises' baseline discharge (kg/yr). Technology and output-cut abatement
                     scale with it (they remove shares of the baseline); caps given as a
                     ``reduction`` follow it, caps given as a ``total`` do not; an explicit
                     ``history`` (the grandfathering basis) does not change.

Scope: ``sector``, ``enterprise`` (one id or a list) and ``pollutant`` narrow the rows the entry
applies to; none given means every row of the target. For ``technology_cost`` a pollutant selects
the technologies that remove it. A scope that matches nothing is an error, so that a typo cannot
silently leave a number fixed. With ``per: scope`` (the default) one multiplier is drawn for all the
matched rows (a common shock, e.g. the price of reagents); with ``per: enterprise`` one is drawn
for each matched enterprise independently (firm-level uncertainty).

Distributions (parameters are multipliers, dimensionless):

``lognormal``   ``median`` (default 1) and ``sigma``, the standard deviation of ln m (0.3 ≈ ±30 %).
``uniform``     ``low`` and ``high``.
``triangular``  ``low``, ``mode`` and ``high``.

Entries apply in order; two entries on the same number multiply. Draws are reproducible: the
multipliers of sample ``s`` of entry ``k`` come from ``SeedSequence([seed, s, k])``, so a sample
does not depend on the other samples, on the engine or on the number of workers, and adding an
entry does not change the draws of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emtrade.registry import SECTORS

TARGETS = ("slope", "step_cost", "technology_cost", "baseline")


class Uncertainty(BaseModel):
    """One uncertain group of numbers: a multiplier drawn per sample (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True)

    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Label of the entry (a column u:NAME of runs.csv); default TARGET-ROW, e.g. slope-0.",
    )
    target: Literal["slope", "step_cost", "technology_cost", "baseline"] = Field(
        description="What the multiplier scales: linear MAC slopes, MAC step costs, technology costs (running "
        "and fixed) or baseline discharges."
    )
    sector: str | None = Field(None, description="Only rows of enterprises of this sector.")
    enterprise: str | list[str] | None = Field(None, description="Only rows of this enterprise (or these).")
    pollutant: str | None = Field(None, description="Only rows of this metal (technologies: those removing it).")
    distribution: Literal["lognormal", "uniform", "triangular"] = Field(description="Distribution of the multiplier.")
    median: float = Field(1.0, gt=0, le=1e6, description="lognormal: median multiplier.")
    sigma: float | None = Field(None, ge=0, le=5, description="lognormal: standard deviation of ln(multiplier).")
    low: float | None = Field(None, ge=0, le=1e6, description="uniform, triangular: smallest multiplier.")
    mode: float | None = Field(None, ge=0, le=1e6, description="triangular: most likely multiplier.")
    high: float | None = Field(None, ge=0, le=1e6, description="uniform, triangular: largest multiplier.")
    per: Literal["scope", "enterprise"] = Field(
        "scope",
        description="'scope': one multiplier for every matched row; 'enterprise': one per matched enterprise.",
    )

    @field_validator("sector")
    @classmethod
    def _known_sector(cls, v: str | None) -> str | None:
        if v is not None and v not in SECTORS:
            raise ValueError(f"sector '{v}' is not one of {', '.join(SECTORS)}")
        return v

    @field_validator("enterprise", mode="before")
    @classmethod
    def _ids_as_text(cls, v: Any) -> Any:
        def text(x: Any) -> Any:
            if isinstance(x, int | float) and not isinstance(x, bool):
                return str(int(x)) if float(x).is_integer() else str(x)
            return x

        return [text(x) for x in v] if isinstance(v, list) else text(v)

    @model_validator(mode="after")
    def _parameters(self) -> Uncertainty:
        d = self.distribution
        given = {k for k in ("sigma", "low", "mode", "high") if getattr(self, k) is not None}
        needs = {"lognormal": {"sigma"}, "uniform": {"low", "high"}, "triangular": {"low", "mode", "high"}}[d]
        if missing := needs - given:
            raise ValueError(f"a {d} distribution needs {', '.join(sorted(missing))}")
        if extra := given - needs:
            raise ValueError(f"{', '.join(sorted(extra))} do not apply to a {d} distribution")
        if d != "lognormal" and "median" in self.model_fields_set:
            raise ValueError(f"median does not apply to a {d} distribution")
        if d in ("uniform", "triangular") and self.low > self.high:  # type: ignore[operator]
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if d == "triangular" and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise ValueError(f"mode ({self.mode}) must lie between low ({self.low}) and high ({self.high})")
        return self

    @property
    def enterprises(self) -> list[str] | None:
        if self.enterprise is None:
            return None
        return list(self.enterprise) if isinstance(self.enterprise, list) else [self.enterprise]

    def label(self, k: int) -> str:
        return self.name or f"{self.target}-{k}"

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` multipliers."""
        if self.distribution == "lognormal":
            assert self.sigma is not None
            return rng.lognormal(np.log(self.median), self.sigma, size)
        assert self.low is not None and self.high is not None
        if self.low == self.high:  # a point mass: numpy refuses a degenerate interval
            return np.full(size, float(self.low))
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, size)
        assert self.mode is not None
        return rng.triangular(self.low, self.mode, self.high, size)


# --------------------------------------------------------------------------------------------------
# applying a sample


@dataclass(frozen=True)
class _Row:
    """One number the entries may scale: where it is in the raw scenario and its validated value."""

    key: str  # dotted key for Scenario.with_overrides
    value: float
    enterprise: str
    sector: str


def _rows(sc: Any, entry: Uncertainty) -> list[_Row]:
    """The numbers an entry scales, in scenario order."""
    spec = sc.spec
    sector_of = {e.id: e.sector for e in spec.enterprises}
    wanted = entry.enterprises
    rows: list[_Row] = []

    def keep(ent: str) -> bool:
        return (entry.sector is None or sector_of.get(ent) == entry.sector) and (wanted is None or ent in wanted)

    if entry.target == "baseline":
        raw_rows = sc.row_index.get("enterprises") or list(range(len(spec.enterprises)))
        for e, i in zip(spec.enterprises, raw_rows, strict=True):
            if not keep(e.id):
                continue
            for p, b in e.baseline.items():
                if entry.pollutant is None or p == entry.pollutant:
                    rows.append(_Row(f"enterprises.{i}.baseline.{p}", float(b), e.id, e.sector))
        return rows
    raw_rows = sc.row_index.get("abatement") or list(range(len(spec.abatement)))
    for o, i in zip(spec.abatement, raw_rows, strict=True):
        if not keep(o.enterprise):
            continue
        sector = sector_of.get(o.enterprise, "")
        if entry.target == "slope" and o.kind == "linear" and entry.pollutant in (None, o.pollutant):
            rows.append(_Row(f"abatement.{i}.slope", float(o.slope), o.enterprise, sector))
        elif entry.target == "step_cost" and o.kind == "step" and entry.pollutant in (None, o.pollutant):
            rows.append(_Row(f"abatement.{i}.cost", float(o.cost), o.enterprise, sector))
        elif (
            entry.target == "technology_cost"
            and o.kind == "technology"
            and (entry.pollutant is None or o.removal.get(entry.pollutant, 0.0) > 0)
        ):
            rows.append(_Row(f"abatement.{i}.cost", float(o.cost), o.enterprise, sector))
            rows.append(_Row(f"abatement.{i}.fixed_cost", float(o.fixed_cost), o.enterprise, sector))
    return rows


def check_uncertainty(sc: Any) -> list[str]:
    """Problems of the section that the schema cannot see: unknown ids, scopes that match nothing."""
    spec = sc.spec
    ids = {e.id for e in spec.enterprises}
    problems = []
    names: dict[str, int] = {}
    for k, u in enumerate(spec.uncertainty):
        where = f"uncertainty[{k}]"
        label = u.label(k)
        if label in names:
            problems.append(f"{where}: name '{label}' is already used by uncertainty[{names[label]}]")
        names.setdefault(label, k)
        unknown = [e for e in u.enterprises or [] if e not in ids]
        if unknown:
            problems.append(f"{where}: enterprise {', '.join(unknown)} is not in the enterprises table")
            continue
        if u.pollutant is not None and u.pollutant not in spec.pollutants:
            problems.append(f"{where}: pollutant '{u.pollutant}' is not one of {', '.join(spec.pollutants)}")
            continue
        if not _rows(sc, u):
            problems.append(f"{where}: no {u.target.replace('_', ' ')} matches this scope")
    return problems


@dataclass
class Sample:
    """The multipliers of one sample and the dotted overrides that apply them."""

    multipliers: dict[str, float]  # entry label -> multiplier ('per: scope' entries)
    by_enterprise: list[tuple[str, str, float]]  # (entry label, enterprise, multiplier) for 'per: enterprise'
    overrides: dict[str, float]


def draw_sample(sc: Any, seed: int, sample: int) -> Sample:
    """The multipliers of sample number ``sample`` and the overrides that apply them to ``sc``."""
    factor: dict[str, float] = {}
    value: dict[str, float] = {}
    multipliers: dict[str, float] = {}
    by_enterprise: list[tuple[str, str, float]] = []
    for k, u in enumerate(sc.spec.uncertainty):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(sample), k])))
        rows = _rows(sc, u)
        label = u.label(k)
        if u.per == "scope":
            m = float(u.draw(rng, 1)[0])
            multipliers[label] = m
            per_row = [m] * len(rows)
        else:
            firms = list(dict.fromkeys(r.enterprise for r in rows))
            draws = u.draw(rng, len(firms))
            of = {f: float(d) for f, d in zip(firms, draws, strict=True)}
            by_enterprise.extend((label, f, of[f]) for f in firms)
            per_row = [of[r.enterprise] for r in rows]
        for r, m in zip(rows, per_row, strict=True):
            value.setdefault(r.key, r.value)
            factor[r.key] = factor.get(r.key, 1.0) * m
    overrides = {key: value[key] * f for key, f in factor.items()}
    return Sample(multipliers, by_enterprise, overrides)
