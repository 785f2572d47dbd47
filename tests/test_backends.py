"""The pyomo backend builds the same model as a pyomo ConcreteModel and must give the same answers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS

import emtrade
from emtrade.allocation import allocate
from emtrade.inputs import build_inputs
from emtrade.model.build import build_model
from emtrade.policy import policy_of


@pytest.mark.parametrize("name", ["fox_river", "intercept", "field_field"])
def test_pyomo_and_highs_agree(name):
    path = SCENARIOS / "textbook" / f"{name}.yaml"
    a = emtrade.simulate(path)
    b = emtrade.simulate(path, backend="pyomo")
    assert b.summary["total_cost"] == pytest.approx(a.summary["total_cost"], rel=1e-7)
    assert b.summary["cac_total_cost"] == pytest.approx(a.summary["cac_total_cost"], rel=1e-7)
    np.testing.assert_allclose(
        b.prices[["price", "price_low", "price_high"]], a.prices[["price", "price_low", "price_high"]], rtol=1e-7
    )
    np.testing.assert_allclose(b.enterprises.emissions, a.enterprises.emissions, rtol=1e-7, atol=1e-7)


def test_to_pyomo_names_the_constraint_families():
    from emtrade.model.pyomo_model import to_pyomo

    sc = emtrade.load_scenario(SCENARIOS / "textbook" / "fox_river.yaml")
    inputs = build_inputs(sc)
    built = build_model(inputs, allocate(inputs, sc.spec.allocation), policy_of(sc))
    m = to_pyomo(built.problem)
    assert len(m.activity) == 2 and len(m.market) == 1
    assert "dual = permit price" in m.market.doc
