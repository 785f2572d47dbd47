"""The market rules of a run, resolved from the scenario into numbers the model uses.

Per-metal settings (``price_ceiling: {Pb: 500, Cd: 600}`` or one number for every metal) become a
value per *commodity*: the metal itself, or ``PE`` (the pollution equivalent) when
``trading.exchange`` is ``pollution_equivalent``, in which case price settings are in CNY per PE
and must be single numbers.

Discount factors: δ_t = (1 + r)^−(y_t − y_0) for periods labelled by years (y_0 the first), and
(1 + r)^−t for other labels (t the period's position).

Command-and-control keeps the physical policy (caps, firm limits, receptors, phase-out,
penalties) and drops everything that is a market: trading, banking and borrowing, government sales
at a ceiling or from a reserve, price floors and transaction fees.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from emtrade.registry import METALS
from emtrade.scenario.loader import Scenario

PE = "PE"


@dataclass(frozen=True)
class Policy:
    """Numbers of the market rules. Prices in CNY/kg (CNY/PE for a PE market), quantities in kg."""

    scope: str = "all"
    exchange: str = "by_metal"
    banking: bool = False
    borrowing: float = 0.0  # largest amount outstanding per market, kg (inf: unlimited; 0: none)
    discount: tuple[float, ...] = (1.0,)
    ceiling: dict[str, float] = field(default_factory=dict)
    reserve_price: dict[str, float] = field(default_factory=dict)
    reserve_quantity: dict[str, float] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    fee: dict[str, float] = field(default_factory=dict)
    penalty: dict[str, float] = field(default_factory=dict)
    allocation_fee: dict[str, float] = field(default_factory=dict)
    ratios: tuple[tuple[str, str, float], ...] = ()
    no_net_inflow: tuple[str, ...] = ()
    dominant: tuple[str, ...] = ()

    @property
    def weighted(self) -> bool:
        return self.exchange == "pollution_equivalent"

    def commodity(self, pollutant: str) -> str:
        return PE if self.weighted else pollutant

    def weight(self, pollutant: str) -> float:
        """Units of the market's commodity per kg of ``pollutant`` (1, or PE per kg)."""
        return METALS[pollutant].weight if self.weighted else 1.0

    def command_and_control(self) -> Policy:
        """The same physical policy without any market (see the module docstring)."""
        return dataclasses.replace(
            self,
            scope="none",
            exchange="by_metal",
            banking=False,
            borrowing=0.0,
            ceiling={},
            reserve_price={},
            reserve_quantity={},
            floor={},
            fee={},
            ratios=(),
            no_net_inflow=(),
            dominant=(),
            penalty=self._by_metal_penalty(),
        )

    def _by_metal_penalty(self) -> dict[str, float]:
        if not self.weighted:
            return dict(self.penalty)
        pe = self.penalty.get(PE)
        return {} if pe is None else {p: pe * m.weight for p, m in METALS.items()}


def _per_commodity(value, pollutants: list[str], weighted: bool) -> dict[str, float]:
    """A number for every metal, a mapping per metal, or (PE markets) one number per PE."""
    if value is None:
        return {}
    if weighted:
        return {PE: float(value)}
    if isinstance(value, dict):
        return {p: float(v) for p, v in value.items()}
    return {p: float(value) for p in pollutants}


def discount_factors(periods: list[str], rate: float) -> tuple[float, ...]:
    """δ_t for each period: by year difference where every label is a year, else by position."""
    try:
        years = [float(t) for t in periods]
        gaps = [y - years[0] for y in years]
    except ValueError:
        gaps = list(range(len(periods)))
    return tuple(float((1.0 + rate) ** -g) for g in gaps)


def policy_of(sc: Scenario) -> Policy:
    """Resolve the scenario's market rules (see the module docstring)."""
    spec = sc.spec
    tr = spec.trading
    weighted = tr.exchange == "pollution_equivalent"
    pollutants = list(spec.pollutants)
    rate = tr.discount_rate if tr.discount_rate is not None else spec.discount_rate
    borrowing = float("inf") if tr.borrowing is True else (0.0 if tr.borrowing is False else float(tr.borrowing))
    penalty = {}
    if spec.enforcement is not None:
        enf = spec.enforcement
        if enf.penalty is not None:
            penalty = _per_commodity(enf.penalty, pollutants, weighted)
        else:
            fine = _per_commodity(enf.daily_fine, pollutants, weighted)
            per_day = _per_commodity(enf.kg_per_day, pollutants, weighted)
            penalty = {k: fine[k] / per_day[k] for k in fine if k in per_day and per_day[k] > 0}
    reserve_price, reserve_quantity = {}, {}
    if tr.reserve is not None:
        reserve_price = _per_commodity(tr.reserve.price, pollutants, weighted)
        reserve_quantity = _per_commodity(tr.reserve.quantity, pollutants, weighted)
    return Policy(
        scope=tr.scope,
        exchange=tr.exchange,
        banking=tr.banking,
        borrowing=borrowing,
        discount=discount_factors(sc.periods, rate),
        ceiling=_per_commodity(tr.price_ceiling, pollutants, weighted),
        reserve_price=reserve_price,
        reserve_quantity=reserve_quantity,
        floor=_per_commodity(tr.price_floor, pollutants, weighted),
        fee=_per_commodity(tr.fee, pollutants, weighted),
        penalty=penalty,
        allocation_fee=_per_commodity(spec.allocation.fee, pollutants, False),
        ratios=tuple((r.from_, r.to, float(r.ratio)) for r in tr.ratios),
        no_net_inflow=tuple(tr.no_net_inflow),
        dominant=tuple(spec.market.dominant),
    )


def discount_array(policy: Policy, n_t: int) -> np.ndarray:
    d = np.asarray(policy.discount, dtype=float)
    return d if len(d) == n_t else np.ones(n_t)
