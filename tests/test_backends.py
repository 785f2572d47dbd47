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


def test_problem_arrays_hold_once_and_grow_after_freezing():
    """arrays() folds the parts into one array each and the triplets into the matrix; blocks added
    afterwards extend them, and a duplicate entry still sums."""
    import pandas as pd

    from emtrade.model.problem import Problem

    p = Problem()
    idx = pd.DataFrame({"j": [0, 1]})
    p.add_columns("x", idx, upper=[1.0, 2.0], cost=[3.0, 4.0])
    p.add_rows("r", pd.DataFrame({"i": [0]}), [0, 0], [0, 1], [1.0, 1.0], upper=5.0)
    first = p.arrays()
    assert first["A"].toarray().tolist() == [[1.0, 1.0]]
    assert p.entries == [] and len(p.col_cost) == 1 and p.col_cost[0] is first["col_cost"]
    p.add_columns("y", pd.DataFrame({"j": [2]}), cost=7.0)
    p.add_rows("s", pd.DataFrame({"i": [0, 1]}), [0, 1, 1], [2, 0, 0], [2.0, 1.0, 0.5], lower=1.0)
    a = p.arrays()
    assert a["A"].toarray().tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 2.0], [1.5, 0.0, 0.0]]
    assert a["col_cost"].tolist() == [3.0, 4.0, 7.0] and a["col_upper"][:2].tolist() == [1.0, 2.0]
    assert a["row_upper"].tolist() == [5.0, np.inf, np.inf] and a["row_lower"].tolist() == [-np.inf, 1.0, 1.0]
