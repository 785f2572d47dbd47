"""River receptors from a simple river description: dilution, first-order decay, GB 3838 class limits.

A scenario's ambient constraints are ``receptors`` (``id``, ``pollutant``, ``limit``) and ``transfer``
rows (``enterprise`` or ``zone``, ``receptor``, ``coefficient``): the load of receptor r is Σ_i c_ir E_i
over the discharges E_i (kg/yr) of its pollutant, and must stay within its limit. This module derives
both tables from a description of the river, so that a load becomes a concentration (mg/L) checked
against the GB 3838-2002 class limits. It is pure numpy and pandas and knows nothing of the
optimisation model.

The river
---------
Sections s = 0, 1, …, n−1 in downstream order (monitoring cross-sections, or the ends of reaches).
Each has a design flow Q_s (m³/s; typically the lowest monthly mean flow of 90 % guarantee,
90 %保证率最枯月平均流量, the usual choice of Chinese assimilative-capacity calculations), the travel
time t_s (days) of the reach to the next section (or its length and mean velocity), a first-order loss
rate k_sm (1/day) of metal m on that reach (for heavy metals mostly settling with suspended
sediment), the background concentration C0_sm (mg/L), and the GB 3838 water class whose limits apply
there (II or III on the Xiangjiang). A tributary may join just above a section (flow q_s,
concentration cT_sm). Enterprises, or whole zones, discharge into a section.

Assumptions: steady state at the design flow; a discharge into section s is fully mixed across the
river by the section's check point; no dispersion along the river (plug flow), so a metal keeps its
mass except for the first-order loss and only dilutes; the flow only grows downstream (tributaries,
and lateral inflow carrying no metal): Q_s ≥ Q_{s−1} + q_s.

The maths
---------
Symbols (sections d, s; metal m):

    Q_d      design flow at section d (m³/s)
    t_j      travel time of the reach from section j to j + 1 (d)
    k_jm     first-order loss rate of metal m on that reach (1/d)
    q_d      tributary inflow joining just above d (m³/s), at concentration cT_dm (mg/L)
    C0_dm    background concentration (mg/L)
    L_dm     GB 3838-2002 limit of metal m in the class of section d (mg/L)
    W_sm     load of metal m discharged into section s (kg/yr)

Units: 1 kg/yr = 10⁶ mg per 31,557,600 s (a Julian year) and 1 m³/s = 1000 L/s, so a load W (kg/yr)
fully mixed in a flow Q (m³/s) has the concentration

    C = 10⁶ W / (1000 · 31,557,600 · Q) = W / (31,557.6 Q)    (mg/L)

(``KG_PER_YR_PER_MG_L_M3_S`` = 31,557.6: 1 mg/L in 1 m³/s carries 31,557.6 kg/yr.)

Attenuation from section s to section d (dimensionless, the share of the mass that arrives):

    A_dsm = exp(−Σ_{j=s}^{d−1} k_jm t_j)  for d ≥ s (A_ssm = 1),   A_dsm = 0 upstream (d < s)

Concentration at d from 1 kg/yr discharged at s (mg/L per kg/yr):

    U_dsm = A_dsm / (31,557.6 Q_d)

Background, where not measured, carried down by mass balance with the tributary inflow (Q_{−1} = 0):

    C0_sm = (Q_{s−1} C0_{s−1,m} exp(−k_{s−1,m} t_{s−1}) + q_s cT_sm) / Q_s

Concentration from discharges:  C_dm = C0_dm + Σ_s U_dsm W_sm.

Receptors. A section with a water class is a receptor for every metal that GB 3838 limits in that
class (:func:`emtrade.registry.gb3838_limit`). C_dm ≤ L_dm is, in load terms (``basis="load"``, the
default), with s(i) the section enterprise i discharges into and E_im its discharge (kg/yr):

    Σ_i A_{d,s(i),m} E_im ≤ (L_dm − C0_dm) · 31,557.6 Q_d    (kg/yr)

the coefficient A (kg/yr arriving per kg/yr discharged, ≤ 1) and the limit the assimilative capacity
the background leaves (kg/yr). With ``basis="concentration"`` the coefficient is U (mg/L per kg/yr)
and the limit L − C0 (mg/L): the same constraint divided by 31,557.6 Q_d. The load basis keeps the
numbers near those of the caps (coefficients ≤ 1 rather than ~10⁻⁸), and the receptor's shadow price
is then in CNY per kg/yr arriving.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from emtrade.errors import Problem, ScenarioError
from emtrade.registry import METALS, gb3838_limit, metal_id
from emtrade.scenario.schema import Id

#: seconds in a (Julian) year: 365.25 d × 86,400 s
SECONDS_PER_YEAR = 31_557_600
#: kg/yr carried by 1 mg/L in a flow of 1 m³/s: 1000 L/m³ × 31,557,600 s/yr / 10⁶ mg/kg
KG_PER_YR_PER_MG_L_M3_S = 1000 * SECONDS_PER_YEAR / 1e6
SECONDS_PER_DAY = 86_400


# --------------------------------------------------------------------------------------------------
# the maths on arrays


def load_to_concentration(load_kg_per_yr: Any, flow_m3_s: Any) -> Any:
    """Concentration (mg/L) of a load W (kg/yr) fully mixed in a flow Q (m³/s): W / (31,557.6 · Q)."""
    return np.asarray(load_kg_per_yr, dtype=float) / (KG_PER_YR_PER_MG_L_M3_S * np.asarray(flow_m3_s, dtype=float))


def concentration_to_load(concentration_mg_l: Any, flow_m3_s: Any) -> Any:
    """Load (kg/yr) that a concentration C (mg/L) in a flow Q (m³/s) carries: 31,557.6 · Q · C."""
    return np.asarray(concentration_mg_l, dtype=float) * KG_PER_YR_PER_MG_L_M3_S * np.asarray(flow_m3_s, dtype=float)


def attenuation_matrix(travel_time_d: Any, decay_per_d: Any) -> np.ndarray:
    """A[d, s] = exp(−Σ_{j=s}^{d−1} k_j t_j) for d ≥ s, else 0 (dimensionless).

    ``travel_time_d[j]`` (days) and ``decay_per_d[j]`` (1/day) belong to the reach from section j to
    j + 1; the last entries are not used.
    """
    t = np.asarray(travel_time_d, dtype=float)
    k = np.asarray(decay_per_d, dtype=float)
    n = len(t)
    exponent = np.concatenate([[0.0], np.cumsum(k[:-1] * t[:-1])])  # Σ_{j<d} k_j t_j at each section d
    diff = exponent[:, None] - exponent[None, :]
    lower = np.tril(np.ones((n, n), dtype=bool))
    return np.where(lower, np.exp(-np.where(lower, diff, 0.0)), 0.0)


def unit_concentration_matrix(flow_m3_s: Any, travel_time_d: Any, decay_per_d: Any) -> np.ndarray:
    """U[d, s]: concentration (mg/L) at section d from 1 kg/yr discharged at section s.

    U[d, s] = 10⁶ mg/kg / (Q_d · 1000 L/m³ · 31,557,600 s/yr) · exp(−Σ_{j=s}^{d−1} k_j t_j), zero upstream.
    """
    q = np.asarray(flow_m3_s, dtype=float)
    return attenuation_matrix(travel_time_d, decay_per_d) / (KG_PER_YR_PER_MG_L_M3_S * q)[:, None]


def allowable_load(limit_mg_l: Any, background_mg_l: Any, flow_m3_s: Any) -> Any:
    """Load (kg/yr) that may arrive at a section: (L − C⁰) · 31,557.6 · Q (negative if C⁰ > L)."""
    return concentration_to_load(
        np.asarray(limit_mg_l, dtype=float) - np.asarray(background_mg_l, dtype=float), flow_m3_s
    )


def background_profile(
    flow_m3_s: Any,
    travel_time_d: Any,
    decay_per_d: Any,
    tributary_flow_m3_s: Any,
    tributary_mg_l: Any,
    measured_mg_l: Any,
) -> np.ndarray:
    """Background concentration (mg/L) at each section: measured where given (not NaN), else mass balance.

    C⁰_s = (Q_{s−1} C⁰_{s−1} e^{−k_{s−1} t_{s−1}} + q_s c^T_s) / Q_s, with Q_{−1} = 0.
    """
    q = np.asarray(flow_m3_s, dtype=float)
    t = np.asarray(travel_time_d, dtype=float)
    k = np.asarray(decay_per_d, dtype=float)
    qt = np.asarray(tributary_flow_m3_s, dtype=float)
    ct = np.asarray(tributary_mg_l, dtype=float)
    measured = np.asarray(measured_mg_l, dtype=float)
    out = np.empty(len(q))
    for s in range(len(q)):
        upstream = q[s - 1] * out[s - 1] * math.exp(-k[s - 1] * t[s - 1]) if s else 0.0
        out[s] = measured[s] if not np.isnan(measured[s]) else (upstream + qt[s] * ct[s]) / q[s]
    return out


# --------------------------------------------------------------------------------------------------
# the description (pydantic)


def _metal_key(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    m = metal_id(v)
    if m is None:
        raise ValueError(f"unknown metal '{v}' (one of {', '.join(METALS)})")
    return m


_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III", "Ⅳ": "IV", "Ⅴ": "V"}


def _water_class(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and float(v).is_integer():
        v = str(int(v))
    if isinstance(v, str):
        text = v.strip().upper().removeprefix("CLASS").strip().removesuffix("类").strip()
        return _ROMAN.get(text, text)
    return v


Metal = Annotated[str, BeforeValidator(_metal_key)]
Conc = Annotated[float, Field(ge=0, le=1e4)]
WaterClass = Annotated[Literal["I", "II", "III", "IV", "V"], BeforeValidator(_water_class)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True)


def _unit(unit: str) -> dict[str, str]:
    return {"unit": unit}


class RiverSection(_Strict):
    """One section of the river (a monitoring cross-section), with the reach to the next one."""

    id: Id = Field(description="Section id, unique along the river.")
    name: str | None = Field(None, description="Display name (e.g. 马家河, 坪塘).")
    flow: float | None = Field(
        None,
        gt=0,
        le=1e6,
        description="Design flow at the section (e.g. the dry-season flow of 90 % guarantee). Required at the "
        "first section; elsewhere it defaults to the flow above plus the tributary inflow.",
        json_schema_extra=_unit("m³/s"),
    )
    tributary_flow: float = Field(
        0.0,
        ge=0,
        le=1e6,
        description="Tributary inflow joining just above the section.",
        json_schema_extra=_unit("m³/s"),
    )
    tributary_background: dict[Metal, Conc] = Field(
        default_factory=dict, description="Concentration of the tributary, per metal.", json_schema_extra=_unit("mg/L")
    )
    travel_time: float | None = Field(
        None, ge=0, le=1e4, description="Travel time of the reach to the next section.", json_schema_extra=_unit("d")
    )
    distance: float | None = Field(
        None, ge=0, le=1e5, description="Or: length of the reach to the next section.", json_schema_extra=_unit("km")
    )
    velocity: float | None = Field(
        None, gt=0, le=100, description="With distance: mean velocity of the reach.", json_schema_extra=_unit("m/s")
    )
    decay: float = Field(
        0.0,
        ge=0,
        le=1e3,
        description="First-order loss rate (settling, sorption) on the reach to the next section, every metal.",
        json_schema_extra=_unit("1/d"),
    )
    metal_decay: dict[Metal, Annotated[float, Field(ge=0, le=1e3)]] = Field(
        default_factory=dict, description="Loss rate per metal, overriding decay.", json_schema_extra=_unit("1/d")
    )
    background: dict[Metal, Conc] = Field(
        default_factory=dict,
        description="Measured background concentration per metal; where not given, carried down from upstream.",
        json_schema_extra=_unit("mg/L"),
    )
    water_class: WaterClass | None = Field(
        None, description="GB 3838-2002 class whose limits apply (I-V); a section without one is not a receptor."
    )

    @model_validator(mode="after")
    def _reach(self) -> RiverSection:
        problem = _reach_problem(self.model_dump())
        if problem:
            raise ValueError(problem)
        return self

    def reach_days(self) -> float | None:
        """Travel time (days) of the reach to the next section, or None if not given."""
        if self.travel_time is not None:
            return self.travel_time
        if self.distance is not None and self.velocity is not None:
            return self.distance * 1000.0 / self.velocity / SECONDS_PER_DAY
        return None


def _reach_problem(row: Mapping[str, Any]) -> str | None:
    """How the reach to the next section is given, checked on a validated or a raw row."""
    given = {k for k in ("travel_time", "distance", "velocity") if row.get(k) not in (None, "")}
    if "travel_time" in given and given & {"distance", "velocity"}:
        return "give travel_time, or distance with velocity, not both"
    if len(given & {"distance", "velocity"}) == 1:
        return "distance and velocity go together (travel time = distance / velocity)"
    return None


class Discharge(_Strict):
    """Where an enterprise, or every enterprise of a zone, discharges: into a section of the river."""

    enterprise: Id | None = Field(None, description="The discharging enterprise.")
    zone: Id | None = Field(None, description="Or: every enterprise of this zone.")
    section: Id = Field(description="The section it discharges into (fully mixed by its check point).")

    @model_validator(mode="after")
    def _enterprise_or_zone(self) -> Discharge:
        if (self.enterprise is None) == (self.zone is None):
            raise ValueError("give exactly one of 'enterprise' and 'zone'")
        return self


class RiverSpec(_Strict):
    """A river: sections in downstream order, and who discharges where."""

    name: str | None = Field(None, description="Name of the river or reach.")
    description: str | None = Field(None, description="Free text: sources of the flows and rates.")
    sections: list[RiverSection] = Field(min_length=1, description="Sections in downstream order (list or CSV path).")
    discharges: list[Discharge] = Field(
        default_factory=list, description="Which enterprises or zones discharge into which section (list or CSV path)."
    )


#: table keys of a river description and the nested keys of their CSV columns (``background_Pb``)
TABLES: dict[str, Any] = {"sections": RiverSection, "discharges": Discharge}
NESTED_KEYS = {"sections": ("tributary_background", "metal_decay", "background"), "discharges": ()}


# --------------------------------------------------------------------------------------------------
# the river as arrays


@dataclass(frozen=True, eq=False)
class River:
    """A validated river description as arrays (build it with :func:`load_river`).

    ``flow`` (m³/s), ``travel_time`` (d, reach to the next section; 0 for the last) and
    ``tributary_flow`` (m³/s) are arrays over the sections in downstream order.
    """

    spec: RiverSpec
    ids: tuple[str, ...]
    flow: np.ndarray
    travel_time: np.ndarray
    tributary_flow: np.ndarray
    water_class: tuple[str | None, ...]
    #: ("enterprise" or "zone", id) → section index
    section_of: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    def decay(self, metal: str) -> np.ndarray:
        """k (1/d) of ``metal`` on each reach: the section's metal_decay, else its decay."""
        m = _metal(metal)
        return np.array([s.metal_decay.get(m, s.decay) for s in self.spec.sections], dtype=float)

    def attenuation(self, metal: str) -> np.ndarray:
        """A[d, s]: share of 1 kg/yr discharged at s that arrives at d (dimensionless)."""
        return attenuation_matrix(self.travel_time, self.decay(metal))

    def unit_concentration(self, metal: str) -> pd.DataFrame:
        """U[d, s]: mg/L at section d (rows) per kg/yr of ``metal`` discharged at section s (columns)."""
        u = unit_concentration_matrix(self.flow, self.travel_time, self.decay(metal))
        index = pd.Index(self.ids, name="section")
        return pd.DataFrame(u, index=index, columns=pd.Index(self.ids, name="source"))

    def background(self, metal: str) -> np.ndarray:
        """Background concentration (mg/L) of ``metal`` at each section (measured, else mass balance)."""
        m = _metal(metal)
        secs = self.spec.sections
        measured = [s.background.get(m, np.nan) for s in secs]
        tributary = [s.tributary_background.get(m, 0.0) for s in secs]
        return background_profile(self.flow, self.travel_time, self.decay(m), self.tributary_flow, tributary, measured)

    # ---- receptors and transfer coefficients

    def receptor_details(
        self, pollutants: Iterable[str] | None = None, *, basis: Literal["load", "concentration"] = "load"
    ) -> pd.DataFrame:
        """Every receptor: section × metal limited by GB 3838 in the section's class.

        Columns: ``id`` (``section:metal``), ``pollutant``, ``limit`` (kg/yr on the load basis, mg/L on
        the concentration basis), ``section``, ``water_class``, ``flow`` (m³/s), ``class_limit``,
        ``background``, ``headroom`` (mg/L; headroom = class_limit − background).
        """
        metals = _metals(pollutants)
        rows = []
        for m in metals:
            bg = self.background(m)
            for d, sid in enumerate(self.ids):
                wc = self.water_class[d]
                lim = gb3838_limit(m, wc) if wc is not None else None
                if lim is None:
                    continue
                head = lim - bg[d]
                capacity = float(concentration_to_load(head, self.flow[d])) if basis == "load" else head
                rows.append(
                    {
                        "id": f"{sid}:{m}",
                        "pollutant": m,
                        "limit": capacity,
                        "section": sid,
                        "water_class": wc,
                        "flow": float(self.flow[d]),
                        "class_limit": lim,
                        "background": float(bg[d]),
                        "headroom": head,
                    }
                )
        cols = ["id", "pollutant", "limit", "section", "water_class", "flow", "class_limit", "background", "headroom"]
        return pd.DataFrame(rows, columns=cols)

    def receptors(
        self,
        pollutants: Iterable[str] | None = None,
        *,
        basis: Literal["load", "concentration"] = "load",
        over_limit: Literal["error", "zero"] = "error",
    ) -> pd.DataFrame:
        """The scenario's ``receptors`` table: ``id``, ``pollutant``, ``limit``.

        ``pollutants``: metals to make receptors for (default: every metal GB 3838 limits). A background
        above the class limit leaves a negative capacity, which no discharge can meet: an error, or
        with ``over_limit="zero"`` a limit of 0 (no contributing discharge at all).
        """
        details = self.receptor_details(pollutants, basis=basis)
        over = details[details.headroom < 0]
        if len(over) and over_limit == "error":
            raise ScenarioError(
                [
                    Problem(
                        self.spec.name or "<river>",
                        f"section {r.section}",
                        f"background {r.pollutant} {r.background:.6g} mg/L already exceeds the class "
                        f"{r.water_class} limit {r.class_limit:g} mg/L: no discharge can be allowed "
                        "(over_limit='zero' sets the limit to 0)",
                    )
                    for r in over.itertuples()
                ]
            )
        out = details[["id", "pollutant", "limit"]].copy()
        out["limit"] = out["limit"].clip(lower=0.0)
        return out.reset_index(drop=True)

    def transfer(
        self, pollutants: Iterable[str] | None = None, *, basis: Literal["load", "concentration"] = "load"
    ) -> pd.DataFrame:
        """The scenario's ``transfer`` table: ``enterprise`` or ``zone``, ``receptor``, ``coefficient``.

        One row per discharger and receptor at or below its section (upstream coefficients are 0 and
        left out). Coefficient: A[d, s] (kg/yr arriving per kg/yr discharged) on the load basis,
        U[d, s] (mg/L per kg/yr) on the concentration basis. The ``enterprise`` / ``zone`` columns are
        those the river's discharges use (None where a row has the other).
        """
        details = self.receptor_details(pollutants, basis=basis)
        position = {sid: d for d, sid in enumerate(self.ids)}
        matrices: dict[str, np.ndarray] = {}
        rows = []
        for (kind, who), s in self.section_of.items():
            for r in details.itertuples():
                d = position[r.section]
                if d < s:
                    continue
                if r.pollutant not in matrices:
                    a = self.attenuation(r.pollutant)
                    matrices[r.pollutant] = a if basis == "load" else a / (KG_PER_YR_PER_MG_L_M3_S * self.flow)[:, None]
                rows.append({kind: who, "receptor": r.id, "coefficient": float(matrices[r.pollutant][d, s])})
        used = {kind for kind, _ in self.section_of}
        kinds = [k for k in ("enterprise", "zone") if k in used] or ["enterprise"]
        frame = pd.DataFrame(rows, columns=[*kinds, "receptor", "coefficient"])
        for k in kinds:
            frame[k] = frame[k].astype(object).where(frame[k].notna(), None)
        return frame

    def scenario_tables(
        self,
        pollutants: Iterable[str] | None = None,
        *,
        basis: Literal["load", "concentration"] = "load",
        over_limit: Literal["error", "zero"] = "error",
    ) -> dict[str, list[dict[str, Any]]]:
        """``{"receptors": [...], "transfer": [...]}`` as lists of mappings, ready for a scenario dict.

        Each transfer row carries only the key it uses (``enterprise`` or ``zone``).
        """
        rec = self.receptors(pollutants, basis=basis, over_limit=over_limit)
        tr = self.transfer(pollutants, basis=basis)
        transfer = [{k: v for k, v in row.items() if v is not None} for row in tr.to_dict("records")]
        return {"receptors": rec.to_dict("records"), "transfer": transfer}

    # ---- concentrations from discharges, and the GB 3838 check

    def section_loads(
        self, loads: pd.DataFrame, value: str | None = None, *, unmapped: Literal["error", "ignore"] = "error"
    ) -> pd.DataFrame:
        """Loads (kg/yr) summed per section: columns [period,] pollutant, section, load.

        ``loads`` has a ``pollutant`` column, an ``enterprise`` and/or ``zone`` column, and the load in
        ``value`` (default: the first of ``load``, ``emissions``), kg/yr; ``period`` is kept if present
        (``Results.enterprises`` fits as it is). An enterprise discharges where the river's
        discharges put it, else where its zone's row does.
        """
        if value is None:
            value = next((c for c in ("load", "emissions") if c in loads.columns), None)
            if value is None:
                raise ValueError("loads need a 'load' or 'emissions' column (kg/yr), or name it with value=")
        missing = [c for c in ("pollutant", value) if c not in loads.columns]
        if missing or not ({"enterprise", "zone"} & set(loads.columns)):
            raise ValueError(f"loads need the columns pollutant, {value} and enterprise or zone; missing {missing}")
        n = len(loads)
        sec = np.full(n, -1, dtype=np.int64)
        for kind in ("zone", "enterprise"):  # an enterprise's own row overrides its zone's
            if kind in loads.columns:
                keys = loads[kind].astype(object)
                found = np.array([self.section_of.get((kind, str(k)), -1) if k is not None else -1 for k in keys])
                sec = np.where(found >= 0, found, sec)
        if (sec < 0).any() and unmapped == "error":
            bad = loads[sec < 0]
            names = sorted({str(v) for c in ("enterprise", "zone") if c in bad.columns for v in bad[c].dropna()})
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise ScenarioError(
                [
                    Problem(
                        self.spec.name or "<river>", "discharges", f"no section for {shown} (unmapped='ignore' skips)"
                    )
                ]
            )
        keep = sec >= 0
        metals = [_metal(p) for p in loads["pollutant"]]
        frame = pd.DataFrame(
            {
                "pollutant": np.array(metals, dtype=object)[keep],
                "section": np.array(self.ids, dtype=object)[sec[keep]],
                "load": loads[value].to_numpy(dtype=float)[keep],
            }
        )
        keys = ["pollutant", "section"]
        if "period" in loads.columns:
            frame.insert(0, "period", loads["period"].astype(str).to_numpy()[keep])
            keys = ["period", *keys]
        return frame.groupby(keys, sort=False, as_index=False)["load"].sum()

    def concentrations(
        self,
        loads: pd.DataFrame,
        value: str | None = None,
        *,
        pollutants: Iterable[str] | None = None,
        unmapped: Literal["error", "ignore"] = "error",
    ) -> pd.DataFrame:
        """Concentration (mg/L) at every section: background + Σ_s U[d, s] W_s.

        Columns: [period,] section, pollutant, background, from_discharges, concentration (mg/L).
        ``pollutants`` defaults to the metals in ``loads``.
        """
        by_sec = self.section_loads(loads, value, unmapped=unmapped)
        in_loads = [_metal(p) for p in dict.fromkeys(loads["pollutant"])]
        metals = _metals(pollutants) if pollutants is not None else list(dict.fromkeys(in_loads))
        periods = list(dict.fromkeys(loads["period"].astype(str))) if "period" in loads.columns else [None]
        position = {sid: d for d, sid in enumerate(self.ids)}
        out = []
        for m in metals:
            u = unit_concentration_matrix(self.flow, self.travel_time, self.decay(m))
            bg = self.background(m)
            for p in periods:
                sel = by_sec[by_sec["pollutant"] == m]
                if p is not None:
                    sel = sel[sel["period"] == p]
                w = np.zeros(self.n)
                np.add.at(w, [position[s] for s in sel["section"]], sel["load"].to_numpy(dtype=float))
                inc = u @ w
                part = pd.DataFrame(
                    {
                        "section": list(self.ids),
                        "pollutant": m,
                        "background": bg,
                        "from_discharges": inc,
                        "concentration": bg + inc,
                    }
                )
                if p is not None:
                    part.insert(0, "period", p)
                out.append(part)
        cols = (["period"] if periods != [None] else []) + [
            "section",
            "pollutant",
            "background",
            "from_discharges",
            "concentration",
        ]
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)

    def check(
        self,
        loads: pd.DataFrame,
        value: str | None = None,
        *,
        pollutants: Iterable[str] | None = None,
        unmapped: Literal["error", "ignore"] = "error",
    ) -> pd.DataFrame:
        """:meth:`concentrations` checked against GB 3838: adds water_class, limit, ratio, exceeds."""
        conc = self.concentrations(loads, value, pollutants=pollutants, unmapped=unmapped)
        classes = dict(zip(self.ids, self.water_class, strict=True))
        conc["water_class"] = [classes[s] for s in conc["section"]]
        return gb3838_check(conc)


def gb3838_check(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``limit`` (mg/L, GB 3838-2002), ``ratio`` (concentration / limit) and ``exceeds`` to a table.

    ``table`` has the columns ``pollutant``, ``water_class`` (I-V or None) and ``concentration`` (mg/L).
    Where the class sets no limit for the metal (or there is no class), limit and ratio are NaN and
    ``exceeds`` is False.
    """
    out = table.copy()
    limits = [
        gb3838_limit(_metal(m), _water_class(c)) if c is not None and not pd.isna(c) else None
        for m, c in zip(out["pollutant"], out["water_class"], strict=True)
    ]
    out["limit"] = np.array([np.nan if v is None else v for v in limits], dtype=float)
    out["ratio"] = out["concentration"].to_numpy(dtype=float) / out["limit"].to_numpy()
    out["exceeds"] = (out["concentration"].to_numpy(dtype=float) > out["limit"].to_numpy()) & out["limit"].notna()
    return out


def _metal(name: str) -> str:
    m = metal_id(str(name))
    if m is None:
        raise ValueError(f"unknown metal '{name}' (one of {', '.join(METALS)})")
    return m


def _metals(pollutants: Iterable[str] | None) -> list[str]:
    if pollutants is None:
        return [m for m, v in METALS.items() if any(x is not None for x in v.gb3838_mg_per_l)]
    if isinstance(pollutants, str):
        pollutants = [pollutants]
    return list(dict.fromkeys(_metal(p) for p in pollutants))


# --------------------------------------------------------------------------------------------------
# loading and checking a description


def load_river(
    source: RiverSpec | Mapping[str, Any] | str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    allow_outside: bool = False,
) -> River:
    """Validate a river description and return it as a :class:`River`.

    ``source``: a mapping (the ``river:`` value of a scenario), a :class:`RiverSpec`, or a YAML file
    holding either the description itself or a scenario with a ``river:`` key. ``sections`` and
    ``discharges`` may be paths of CSV/xlsx tables (nested keys flattened with an underscore:
    ``background_Pb``, ``metal_decay_Cd``): in a file, relative to the file; in a mapping, relative
    to ``root``. Every file must lie inside ``root`` (default: the YAML file's folder, or the
    current folder for a mapping) unless ``allow_outside``: a scenario passes its own folder.

    Raises :class:`~emtrade.errors.ScenarioError` with every problem found, each naming the file,
    the row (``sections[2] (id S3)`` or ``sections.csv line 4 (id S3)``) and the key.
    """
    wheres: dict[str, list[str]] = {}
    top = Path(root) if root is not None else None
    if isinstance(source, RiverSpec):
        spec, display, problems = source, "<river>", []
    elif isinstance(source, Mapping):
        display = "<river>"
        raw = dict(source)
        base = top if top is not None else Path.cwd()
        sources, problems = _read_tables(raw, base, base, allow_outside, display)
        if not problems:
            spec, problems, wheres = _validate(raw, display, sources)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        spec, display, problems, wheres = _load_file(path, top if top is not None else path.parent, allow_outside)
    else:
        raise TypeError(f"a river description is a mapping or the path of a YAML file, not {type(source)}")
    if problems:
        raise ScenarioError(problems)
    assert spec is not None
    river, problems = _build(spec, display, wheres)
    if problems:
        raise ScenarioError(problems)
    return river


def _load_file(
    path: Path, root: Path, allow_outside: bool
) -> tuple[RiverSpec | None, str, list[Problem], dict[str, list[str]]]:
    from emtrade.scenario.loader import MAX_YAML_BYTES
    from emtrade.scenario.yaml_reader import read_yaml

    display = str(path)
    if not path.is_file():
        return None, display, [Problem(display, "", "file not found")], {}
    data = path.read_bytes()
    if len(data) > MAX_YAML_BYTES:
        return None, display, [Problem(display, "", "the YAML file is larger than 64 MiB; put tables in CSV files")], {}
    try:
        raw = read_yaml(data.decode("utf-8-sig"), display)
    except UnicodeDecodeError:
        return None, display, [Problem(display, "", "is not UTF-8 text")], {}
    except ScenarioError as exc:
        return None, display, exc.problems, {}
    if isinstance(raw, dict) and "river" in raw:
        raw = raw["river"]
    if not isinstance(raw, dict):
        problem = Problem(display, "", "must be a mapping with 'sections' (or a scenario with 'river:')")
        return None, display, [problem], {}
    sources, problems = _read_tables(raw, path.parent, root, allow_outside, display)
    if problems:
        return None, display, problems, {}
    spec, problems, wheres = _validate(raw, display, sources)
    return spec, display, problems, wheres


def _read_tables(
    raw: dict[str, Any], base: Path, root: Path, allow_outside: bool, display: str
) -> tuple[dict[str, tuple[str, list[int]]], list[Problem]]:
    """Replace the tables given as paths (relative to ``base``, confined to ``root``) by their rows."""
    from emtrade.scenario.loader import confine
    from emtrade.scenario.tables import read_table_file, unflatten

    sources: dict[str, tuple[str, list[int]]] = {}
    problems: list[Problem] = []
    for key, nested in NESTED_KEYS.items():
        value = raw.get(key)
        if not isinstance(value, str):
            continue
        rel = value.strip()
        file, refused = confine(base, rel, root, allow_outside)
        if refused:
            problems.append(Problem(display, key, refused))
            continue
        table, errs = read_table_file(file, rel, table=key)
        if errs or table is None:
            problems.extend(Problem(display, key, str(e)) for e in errs)
            continue
        raw[key] = [unflatten(r, nested) for r in table.rows]
        sources[key] = (rel, table.lines)
    return sources, problems


def _validate(
    raw: dict[str, Any], display: str, sources: dict[str, tuple[str, list[int]]]
) -> tuple[RiverSpec | None, list[Problem], dict[str, list[str]]]:
    """Validate row by row (so that every problem is found and located), then the whole description."""
    # the scenario loader's wording of pydantic errors, and its check of digit separators
    from emtrade.scenario.loader import _clip, _describe, _separator_message, separated_numbers

    problems: list[Problem] = []
    rows: dict[str, list[Any]] = {}
    wheres: dict[str, list[str]] = {}
    for key, model in TABLES.items():
        value = raw.get(key)
        rows[key], wheres[key] = [], []
        if value is None:
            if key == "sections":
                problems.append(Problem(display, "", "missing 'sections' (a list or a CSV path)"))
            continue
        if not isinstance(value, Sequence) or isinstance(value, str):
            problems.append(Problem(display, key, "must be a list of rows or the path of a CSV file"))
            continue
        adapter = TypeAdapter(model)
        file, lines = sources.get(key, (None, None))
        for i, row in enumerate(value):
            name_key = "id" if key == "sections" else None
            label = row.get(name_key) if isinstance(row, dict) and name_key else None
            suffix = f" (id {_clip(str(label))})" if label not in (None, "") else ""
            where = f"{file} line {lines[i]}{suffix}" if file and lines else f"{key}[{i}]{suffix}"
            if not isinstance(row, dict):
                problems.append(Problem(display, where, "each row must be a mapping of keys to values"))
                continue
            try:
                rows[key].append(adapter.validate_python(row))
                wheres[key].append(where)
                for loc in separated_numbers(adapter.validate_python, row, rows[key][-1]):
                    name = ("_" if file else ".").join(map(str, loc))
                    problems.append(Problem(display, where, _separator_message(name, row, loc)))
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    sep = "_" if file else "."
                    name = sep.join(str(p) for p in err["loc"] if p != "[key]")
                    problems.append(Problem(display, where, _describe(err, name)))
                reach = _reach_problem(row) if key == "sections" else None
                if reach and not any(e["type"] == "value_error" and not e["loc"] for e in exc.errors()):
                    problems.append(Problem(display, where, reach))  # said even when a field is bad too
    top = {k: v for k, v in raw.items() if k not in TABLES}
    try:
        spec = RiverSpec.model_validate({**top, "sections": rows["sections"] or [], "discharges": rows["discharges"]})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["loc"] and err["loc"][0] in TABLES:
                if err["type"] == "too_short" and not problems:
                    problems.append(Problem(display, "sections", "the river has no sections"))
                continue
            problems.append(Problem(display, ".".join(str(p) for p in err["loc"]), _describe(err, "")))
        return None, problems, wheres
    return (None if problems else spec), problems, wheres


def _build(spec: RiverSpec, display: str, wheres: dict[str, list[str]]) -> tuple[River | None, list[Problem]]:
    """The checks across rows, and the arrays."""
    problems: list[Problem] = []
    secs = spec.sections
    sec_where = wheres.get("sections") or [f"sections[{i}] (id {s.id})" for i, s in enumerate(secs)]
    dis_where = wheres.get("discharges") or [f"discharges[{i}]" for i in range(len(spec.discharges))]
    seen: dict[str, int] = {}
    for i, s in enumerate(secs):
        if s.id in seen:
            problems.append(Problem(display, sec_where[i], f"section id '{s.id}' appears twice"))
        seen.setdefault(s.id, i)
    flow = np.zeros(len(secs))
    travel = np.zeros(len(secs))
    for i, s in enumerate(secs):
        where = sec_where[i]
        inflow = (flow[i - 1] if i else 0.0) + s.tributary_flow
        if s.flow is None:
            if i == 0:
                problems.append(Problem(display, where, "the first section needs its flow (m³/s)"))
            flow[i] = inflow
        else:
            flow[i] = s.flow
            if s.flow < inflow * (1 - 1e-9):
                problems.append(
                    Problem(
                        display,
                        where,
                        f"flow {s.flow:g} m³/s is less than the flow above plus the tributary ({inflow:g} m³/s); "
                        "the mass balance has no withdrawals",
                    )
                )
        days = s.reach_days()
        if days is None and i < len(secs) - 1:
            problems.append(
                Problem(
                    display, where, "needs travel_time (d), or distance (km) with velocity (m/s), to the next section"
                )
            )
        travel[i] = days if (days is not None and i < len(secs) - 1) else 0.0
    section_of: dict[tuple[str, str], int] = {}
    for i, dis in enumerate(spec.discharges):
        kind, who = ("enterprise", dis.enterprise) if dis.enterprise is not None else ("zone", dis.zone)
        where = f"{dis_where[i]} ({kind} {who})"
        if dis.section not in seen:
            problems.append(Problem(display, where, f"section '{dis.section}' is not one of the river's sections"))
        elif (kind, who) in section_of:
            problems.append(Problem(display, where, f"{kind} '{who}' is given a section twice"))
        else:
            section_of[(kind, who)] = seen[dis.section]
    if problems:
        return None, problems
    river = River(
        spec=spec,
        ids=tuple(s.id for s in secs),
        flow=flow,
        travel_time=travel,
        tributary_flow=np.array([s.tributary_flow for s in secs], dtype=float),
        water_class=tuple(s.water_class for s in secs),
        section_of=section_of,
    )
    return river, []
