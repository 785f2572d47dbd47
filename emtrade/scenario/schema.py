"""The scenario file's schema: every key, its unit, its default.

A scenario is a YAML mapping. Its tables (``enterprises``, ``abatement``, ``caps``, ``zones``) are
inline lists of mappings or paths to CSV files (relative to the YAML file) with one column per key;
nested keys flatten with an underscore (``baseline_Pb``, ``removal_As``).

Units: discharges in kg/yr, money in CNY (CNY/yr for running costs, CNY/kg for marginal costs),
output in t/yr, shares as fractions in [0, 1].

The docs' scenario reference is generated from these models (``Field`` descriptions and the
``unit`` extra), so a key without a description here is a key without documentation there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from emtrade.registry import SECTORS
from emtrade.scenario.uncertainty import Uncertainty

SectorId = Literal["ferrous", "chemicals", "manganese", "zinc", "electroplating"]
assert set(SectorId.__args__) == set(SECTORS)  # the schema and the registry must agree


def _to_str(v: Any) -> Any:
    """Ids may be written as numbers in YAML (``id: 17``); they are names, so keep them as text."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(int(v)) if float(v).is_integer() else str(v)
    return v


Id = Annotated[str, BeforeValidator(_to_str), Field(min_length=1, max_length=200)]
PeriodLabel = Annotated[str, BeforeValidator(_to_str), Field(min_length=1, max_length=50)]


def _unit(unit: str) -> dict[str, str]:
    return {"unit": unit}


class _Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently become a default); NaN and inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True)


Kg = Annotated[float, Field(ge=0, le=1e12)]
Money = Annotated[float, Field(ge=-1e15, le=1e15)]
NonNegMoney = Annotated[float, Field(ge=0, le=1e15)]
Share = Annotated[float, Field(ge=0, le=1)]


class Enterprise(_Strict):
    """One enterprise (firm or plant) of the five sectors."""

    id: Id = Field(description="Unique identifier of the enterprise.")
    name: str | None = Field(None, description="Display name (synthetic in the bundled scenarios).")
    sector: SectorId = Field(description="Sector id: ferrous, chemicals, manganese, zinc or electroplating.")
    zone: Id | None = Field(None, description="Zone id (a key area of the speech or any other name).")
    baseline: dict[str, Kg] = Field(
        description="Discharge with no abatement, per metal.", json_schema_extra=_unit("kg/yr")
    )
    limit: dict[str, Kg] | None = Field(
        None,
        description="Firm-specific limit per metal in every period, which permits cannot override (一厂一策).",
        json_schema_extra=_unit("kg/yr"),
    )
    allocation: dict[str, Kg] | None = Field(
        None,
        description="Initial permits per metal, used by allocation method 'given'.",
        json_schema_extra=_unit("kg/yr"),
    )
    history: dict[str, Kg] | None = Field(
        None,
        description="Historical discharge per metal (the grandfathering basis); defaults to the baseline.",
        json_schema_extra=_unit("kg/yr"),
    )
    output: float | None = Field(
        None,
        gt=0,
        le=1e12,
        description="Annual output, the basis of benchmark allocation and of output cuts.",
        json_schema_extra=_unit("t/yr (or output_unit per year)"),
    )
    output_unit: str = Field("t", description="Physical unit of output (t, m² of plated area, hides...).")


class _Option(_Strict):
    enterprise: Id = Field(description="Id of the enterprise that has this option.")


class LinearOption(_Option):
    """A linear marginal-abatement-cost curve for one metal: MAC(q) = intercept + slope·q.

    Abating q kg/yr costs intercept·q + slope·q²/2 CNY/yr, for q in [0, max].
    """

    kind: Literal["linear"]
    name: str | None = Field(None, description="Name of the measure (for the results).")
    pollutant: str = Field(description="The metal abated.")
    slope: float = Field(ge=0, le=1e15, description="Slope of the MAC.", json_schema_extra=_unit("CNY/kg per kg/yr"))
    intercept: Money = Field(0.0, description="MAC at zero abatement.", json_schema_extra=_unit("CNY/kg"))
    max: Kg | None = Field(
        None, description="Largest abatement; defaults to the baseline.", json_schema_extra=_unit("kg/yr")
    )


class StepOption(_Option):
    """One step of a stepwise MAC curve: up to ``quantity`` kg/yr at ``cost`` CNY/kg."""

    kind: Literal["step"]
    name: str | None = Field(None, description="Name of the measure (for the results).")
    pollutant: str = Field(description="The metal abated.")
    quantity: float = Field(gt=0, le=1e12, description="Size of the step.", json_schema_extra=_unit("kg/yr"))
    cost: Money = Field(description="Cost per kg abated in this step.", json_schema_extra=_unit("CNY/kg"))


class TechnologyOption(_Option):
    """A treatment technology that abates several metals jointly.

    Adopting share x in [0, 1] removes x·removal[p]·baseline[p] kg/yr of each metal p at x·cost
    CNY/yr; ``fixed_cost`` is paid once any share is adopted (a binary decision).
    """

    kind: Literal["technology"]
    name: str = Field(min_length=1, description="Name of the technology.")
    removal: dict[str, Share] = Field(description="Share of each metal's baseline removed at full adoption.")
    cost: Money = Field(
        description="Running cost at full adoption; negative for a process change that pays for itself.",
        json_schema_extra=_unit("CNY/yr"),
    )
    fixed_cost: NonNegMoney = Field(
        0.0,
        description="Cost paid once any share is adopted (lumpy investment, annualised).",
        json_schema_extra=_unit("CNY/yr"),
    )
    requires: str | None = Field(
        None,
        description="Name of another technology of the same enterprise that must be adopted at least to the "
        "same share (a polishing stage needs the treatment beneath it).",
    )


class OutputCutOption(_Option):
    """Cutting output: each tonne not produced loses ``margin`` CNY and cuts every metal in proportion.

    Cutting u t/yr of output Y abates u/Y·baseline[p] of each metal p.
    """

    kind: Literal["output_cut"]
    margin: NonNegMoney = Field(description="Profit lost per tonne not produced.", json_schema_extra=_unit("CNY/t"))
    output: float | None = Field(
        None,
        gt=0,
        le=1e12,
        description="Output the cut applies to; defaults to the enterprise's output.",
        json_schema_extra=_unit("t/yr"),
    )
    max: float | None = Field(
        None, ge=0, le=1e12, description="Largest cut; defaults to the whole output.", json_schema_extra=_unit("t/yr")
    )


class RetireOption(_Option):
    """Closing the plant: all its discharge stops, at ``cost`` CNY/yr (a binary decision)."""

    kind: Literal["retire"]
    cost: NonNegMoney = Field(description="Annualised cost of closure.", json_schema_extra=_unit("CNY/yr"))


AbatementOption = Annotated[
    LinearOption | StepOption | TechnologyOption | OutputCutOption | RetireOption,
    Field(discriminator="kind"),
]
ABATEMENT_KINDS = ("linear", "step", "technology", "output_cut", "retire")


class Cap(_Strict):
    """A cap on the total discharge of one metal over a scope (all, a sector, a zone, or both)."""

    id: Id | None = Field(None, description="Name of the cap; defaults to its row number.")
    pollutant: str = Field(description="The metal capped.")
    total: Kg | None = Field(None, description="The cap.", json_schema_extra=_unit("kg/yr"))
    reduction: Share | None = Field(None, description="Or: the fraction cut from the scope's baseline.")
    sector: SectorId | None = Field(None, description="Limit the scope to one sector.")
    zone: Id | None = Field(None, description="Limit the scope to one zone.")
    period: PeriodLabel | None = Field(None, description="The period the cap applies to; default every period.")
    role: Literal["auto", "allocate", "limit"] = Field(
        "auto",
        description=(
            "'allocate': the cap is issued as permits; 'limit': a hard limit on the scope's discharge "
            "that issues no permits; 'auto': allocate unless it overlaps a larger allocating cap."
        ),
    )

    @model_validator(mode="after")
    def _total_or_reduction(self) -> Cap:
        if (self.total is None) == (self.reduction is None):
            raise ValueError("give exactly one of 'total' (kg/yr) and 'reduction' (a fraction)")
        return self


class ZoneDef(_Strict):
    """Labels and schematic position of a zone (optional; the registry knows the speech's zones)."""

    id: Id = Field(description="Zone id used by enterprises and caps.")
    name: str | None = Field(None, description="English name.")
    name_zh: str | None = Field(None, description="Chinese name.")
    key: bool = Field(False, description="A key remediation area (重点整治区域).")
    x: float | None = Field(None, description="Schematic x position for the zone map.")
    y: float | None = Field(None, description="Schematic y position for the zone map.")


PerMetalPrice = Annotated[float, Field(ge=0, le=1e12)] | dict[str, Annotated[float, Field(ge=0, le=1e12)]]
PerMetalKg = Annotated[float, Field(ge=0, le=1e12)] | dict[str, Annotated[float, Field(ge=0, le=1e12)]]


class Limit(_Strict):
    """A firm-specific discharge limit (一厂一策) that permits cannot override."""

    enterprise: Id = Field(description="The enterprise limited.")
    pollutant: str = Field(description="The metal limited.")
    limit: Kg = Field(description="Largest discharge allowed.", json_schema_extra=_unit("kg/yr"))
    period: PeriodLabel | None = Field(None, description="The period it applies to; default every period.")
    from_: PeriodLabel | None = Field(
        None, alias="from", description="Or: the first period it applies to (a deadline); it holds from then on."
    )

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_timing(self) -> Limit:
        if self.period is not None and self.from_ is not None:
            raise ValueError("give 'period' or 'from', not both")
        return self


class Receptor(_Strict):
    """A point of the river (a monitoring section) whose load of one metal must stay within a limit."""

    id: Id = Field(description="Receptor id (a river section).")
    pollutant: str = Field(description="The metal.")
    limit: float = Field(
        ge=0, le=1e15, description="Largest load: Σ coefficient × discharge (in the coefficients' unit, e.g. mg/L)."
    )
    period: PeriodLabel | None = Field(None, description="The period it applies to; default every period.")
    name: str | None = Field(None, description="Display name.")
    section: str | None = Field(None, description="The river section (for charts).")
    water_class: Literal["I", "II", "III", "IV", "V"] | None = Field(
        None, description="GB 3838 class of the section: the report compares concentrations with its limit."
    )
    flow: float | None = Field(
        None,
        gt=0,
        le=1e6,
        description="Design flow at the section, m³/s: with a load limit in kg/yr, the load becomes a "
        "concentration C = background + load / (31,557.6 · flow) mg/L.",
        json_schema_extra=_unit("m³/s"),
    )
    background: float | None = Field(
        None, ge=0, le=1e6, description="Background concentration at the section.", json_schema_extra=_unit("mg/L")
    )


class Transfer(_Strict):
    """How much 1 kg/yr discharged by an enterprise (or by every enterprise of a zone) adds to a receptor."""

    enterprise: Id | None = Field(None, description="The discharging enterprise.")
    zone: Id | None = Field(None, description="Or: every enterprise of this zone.")
    receptor: Id = Field(description="The receptor.")
    coefficient: float = Field(
        ge=0, le=1e15, description="Contribution of 1 kg/yr to the receptor's load (e.g. mg/L per kg/yr)."
    )

    @model_validator(mode="after")
    def _enterprise_or_zone(self) -> Transfer:
        if (self.enterprise is None) == (self.zone is None):
            raise ValueError("give exactly one of 'enterprise' and 'zone'")
        return self


class Ratio(_Strict):
    """One kg of permits sold in zone ``from`` covers ``ratio`` kg in zone ``to``."""

    from_: Id = Field(alias="from", description="Selling zone.")
    to: Id = Field(description="Buying zone.")
    ratio: float = Field(gt=0, le=1e3, description="kg covered in 'to' per kg sold in 'from'.")

    model_config = ConfigDict(populate_by_name=True)


class Reserve(_Strict):
    """A government reserve: up to ``quantity`` permits released when the price reaches ``price``."""

    price: PerMetalPrice = Field(description="Trigger price (CNY/kg, one value or one per metal).")
    quantity: PerMetalKg = Field(
        description="Permits in the reserve per period (kg/yr, one value or one per metal).",
        json_schema_extra=_unit("kg/yr"),
    )


class Enforcement(_Strict):
    """Penalties for discharge beyond the permits held: firms may exceed and pay."""

    penalty: PerMetalPrice | None = Field(
        None,
        description="Penalty per kg of excess (CNY/kg, one value or one per metal).",
        json_schema_extra=_unit("CNY/kg"),
    )
    daily_fine: PerMetalPrice | None = Field(
        None,
        description="Or: a fine per day of excess (按日计罚), CNY/day; needs kg_per_day.",
        json_schema_extra=_unit("CNY/day"),
    )
    kg_per_day: PerMetalKg | None = Field(
        None,
        description="Excess (kg) that counts as one day of violation: penalty = daily_fine / kg_per_day.",
        json_schema_extra=_unit("kg/day"),
    )

    @model_validator(mode="after")
    def _one_form(self) -> Enforcement:
        if self.penalty is not None and self.daily_fine is not None:
            raise ValueError("give 'penalty' (CNY/kg) or 'daily_fine' with 'kg_per_day', not both")
        if (self.daily_fine is None) != (self.kg_per_day is None):
            raise ValueError("'daily_fine' and 'kg_per_day' go together")
        if self.penalty is None and self.daily_fine is None:
            raise ValueError("give 'penalty' (CNY/kg) or 'daily_fine' (CNY/day) with 'kg_per_day'")
        return self


class Market(_Strict):
    """Market structure."""

    dominant: list[Id] = Field(
        default_factory=list,
        description="Enterprises that set the price against a price-taking fringe (Hahn 1984); "
        "several act as one coalition.",
    )


class Allocation(_Strict):
    """How the caps are split into initial permits."""

    method: Literal["grandfathering", "equal_reduction", "benchmark", "auction", "given"] = Field(
        "grandfathering",
        description=(
            "grandfathering: pro rata to history (default: baseline); equal_reduction: the same fraction "
            "cut from every baseline; benchmark: output × sector benchmark intensity; auction: all permits "
            "sold at the clearing price; given: the enterprises' allocation column."
        ),
    )
    benchmarks: dict[SectorId, dict[str, Annotated[float, Field(ge=0, le=1e9)]]] | None = Field(
        None,
        description="Benchmark intensity per sector and metal (kg per t of output) for method 'benchmark'.",
        json_schema_extra=_unit("kg/t"),
    )
    benchmark_percentile: float = Field(
        10.0,
        gt=0,
        le=100,
        description="Where no benchmark is given: the sector's intensity at this percentile (the cleanest firms).",
    )
    fee: PerMetalPrice | None = Field(
        None,
        description="Paid use (有偿使用): annual fee per kg of permits allocated, CNY/kg·yr (one value or per metal).",
        json_schema_extra=_unit("CNY/kg per yr"),
    )


class Trading(_Strict):
    """Where and how permits may be traded."""

    scope: Literal["all", "sector", "zone", "none"] = Field(
        "all",
        description="One market per metal over all enterprises, per sector, per zone, or none "
        "(command-and-control: every enterprise held to its own allocation).",
    )
    banking: bool = Field(False, description="Unused permits carry forward to the next period 1:1.")
    borrowing: bool | Annotated[float, Field(ge=0, le=1e12)] = Field(
        False,
        description="Permits may be borrowed from the next period 1:1: false, true (no limit) or the largest "
        "amount outstanding per market (kg).",
        json_schema_extra=_unit("kg"),
    )
    discount_rate: float | None = Field(
        None, ge=0, lt=1, description="Same as the top-level discount_rate (either may be given)."
    )
    price_ceiling: PerMetalPrice | None = Field(
        None,
        description="The government sells any number of extra permits at this price (CNY/kg; one value or per metal).",
        json_schema_extra=_unit("CNY/kg"),
    )
    reserve: Reserve | None = Field(None, description="A limited government reserve released at a trigger price.")
    price_floor: PerMetalPrice | None = Field(
        None,
        description="Permits are not sold below this price; the unsold stay with the government (CNY/kg).",
        json_schema_extra=_unit("CNY/kg"),
    )
    fee: PerMetalPrice | None = Field(
        None,
        description="Transaction cost per kg traded, paid by the buyer (CNY/kg; one value or per metal).",
        json_schema_extra=_unit("CNY/kg"),
    )
    ratios: list[Ratio] = Field(
        default_factory=list,
        description="With scope 'zone': rows {from, to, ratio}; pairs of zones without a row cannot trade.",
    )
    no_net_inflow: list[Id] = Field(
        default_factory=list, description="Zones into which no net purchases are allowed (key or non-attainment areas)."
    )
    exchange: Literal["by_metal", "pollution_equivalent"] = Field(
        "by_metal",
        description="'by_metal': one market per metal; 'pollution_equivalent': one market whose unit is the "
        "pollution equivalent (weights from the registry), so metals trade against each other.",
    )


class SolverOptions(_Strict):
    """How the optimisation is solved."""

    time_limit: float | None = Field(
        None, gt=0, description="Wall-clock limit per solve.", json_schema_extra=_unit("s")
    )
    mip_gap: float = Field(1e-6, ge=0, le=1, description="Relative MIP gap at which the search stops.")
    backend: Literal["highs", "pyomo"] = Field(
        "highs",
        description="'highs': the model is built from arrays and passed to HiGHS directly; 'pyomo': the same "
        "model built as a pyomo ConcreteModel and solved by pyomo's HiGHS interface.",
    )
    price_intervals: bool = Field(
        True, description="Compute the interval of market-clearing prices where step curves leave it open."
    )
    fast_path: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Clear separable markets (independent markets of one-metal linear or step MACs, banking "
        "allowed but not borrowing) by an exact merit-order price search instead of the LP: 'auto' where it "
        "applies, 'on' to insist, 'off' never.",
    )
    method: Literal["auto", "simplex", "ipm"] = Field(
        "auto",
        description="HiGHS's algorithm for the first solve of a continuous LP: 'auto' takes interior point "
        "(presolve off, crossover on) from 5,000 columns and simplex below; QPs and MIPs keep HiGHS's choice.",
    )


class ScenarioSpec(_Strict):
    """A whole scenario: who discharges what, how they can abate, the caps and the market rules."""

    name: str = Field(min_length=1, description="Name of the scenario.")
    description: str | None = Field(None, description="Free text.")
    pollutants: list[str] = Field(min_length=1, description="The metals modelled (registry ids, e.g. Pb, Cd, Cr6+).")
    periods: list[PeriodLabel] | None = Field(
        None, min_length=1, max_length=500, description="Period labels (years); default a single period labelled 1."
    )
    enterprises: list[Enterprise] = Field(min_length=1, description="Table of enterprises (list or CSV path).")
    abatement: list[AbatementOption] = Field(
        default_factory=list, description="Table of abatement options, one row each (list or CSV path)."
    )
    caps: list[Cap] = Field(default_factory=list, description="Table of caps (list or CSV path).")
    zones: list[ZoneDef] = Field(default_factory=list, description="Optional table of zone labels (list or CSV path).")
    limits: list[Limit] = Field(
        default_factory=list, description="Firm-specific limits with deadlines (一厂一策) (list or CSV path)."
    )
    receptors: list[Receptor] = Field(default_factory=list, description="River receptors (list or CSV path).")
    transfer: list[Transfer] = Field(
        default_factory=list, description="Transfer coefficients to the receptors (list or CSV path)."
    )
    allocation: Allocation = Field(default_factory=Allocation, description="Initial allocation of permits.")
    trading: Trading = Field(default_factory=Trading, description="Market rules.")
    discount_rate: float = Field(0.0, ge=0, lt=1, description="Annual rate for present-value costs over periods.")
    enforcement: Enforcement | None = Field(None, description="Penalties for discharge beyond the permits held.")
    market: Market = Field(default_factory=Market, description="Market structure (dominant firms).")
    phase_out: list[Id] = Field(default_factory=list, description="Enterprises that must close (淘汰落后产能).")
    river: dict[str, Any] | str | None = Field(
        None,
        description="A river description (sections in downstream order, design flows, decay, water classes, who "
        "discharges where) or the path of a YAML file holding one: its sections become receptors with "
        "GB 3838 limits and transfer coefficients (see emtrade.river and docs/river.md).",
    )
    solver: SolverOptions = Field(default_factory=SolverOptions, description="Solver options.")
    uncertainty: list[Uncertainty] = Field(
        default_factory=list,
        description="Random multipliers on MAC slopes, step costs, technology costs and baselines for Monte Carlo "
        "sweeps (emtrade sweep --samples); ignored by a single run. See emtrade.scenario.uncertainty.",
    )


#: the keys whose value may be a table (inline list or CSV path), with the row model of each
TABLES: dict[str, Any] = {
    "enterprises": Enterprise,
    "abatement": AbatementOption,
    "caps": Cap,
    "zones": ZoneDef,
    "limits": Limit,
    "receptors": Receptor,
    "transfer": Transfer,
}
#: keys of table rows that are mappings (flattened with an underscore in CSV columns)
NESTED_KEYS: dict[str, tuple[str, ...]] = {
    "enterprises": ("baseline", "allocation", "history", "limit"),
    "abatement": ("removal",),
    "caps": (),
    "zones": (),
    "limits": (),
    "receptors": (),
    "transfer": (),
}
#: the column that names a row in error messages
ROW_NAME_KEY = {
    "enterprises": "id",
    "abatement": "enterprise",
    "caps": "id",
    "zones": "id",
    "limits": "enterprise",
    "receptors": "id",
    "transfer": "receptor",
}
