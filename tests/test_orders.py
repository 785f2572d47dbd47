"""Call markets and uniform-price auctions: hand-derived cases, a brute-force property test, the CLI contract.

Every expected number below is derived by hand in the comment beside it (merit order: highest bids
against lowest asks), and the property test checks the clearing against two independent brute
forces: the maximum over candidate prices of min(demand, supply), and unit-by-unit matching.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pandas as pd
import pytest
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emtrade
from emtrade.errors import ScenarioError
from emtrade.orders import RESULT_KEYS, clear_orders


def book(bids=(), asks=()):
    """Orders from (id, quantity, price) tuples."""
    rows = [{"id": i, "side": "bid", "quantity": q, "price": p} for i, q, p in bids]
    rows += [{"id": i, "side": "ask", "quantity": q, "price": p} for i, q, p in asks]
    return rows


# --- hand-derived cases -----------------------------------------------------------------------


def test_the_issue_example_clears_two_units_at_25():
    """Bids 30, 25, 20, 15; asks 25, 20 (one unit each).

    Merit order: unit 1 pairs bid 30 with ask 20, unit 2 bid 25 with ask 25 (willing: 25 ≥ 25), unit 3
    would need an ask for bid 20: none left. V = 2. The ask at 25 sells only at p ≥ 25 and the bid at
    25 buys only at p ≤ 25: the interval is [25, 25], the price 25.
    """
    r = clear_orders(
        book([("b30", 1, 30), ("b25", 1, 25), ("b20", 1, 20), ("b15", 1, 15)], [("a25", 1, 25), ("a20", 1, 20)])
    )
    assert (r.price, r.price_low, r.price_high, r.volume) == (25, 25, 25, 2)
    assert r.filled == {"b30": 1, "b25": 1, "b20": 0, "b15": 0, "a25": 1, "a20": 1}
    assert r.mode == "call"
    assert r["price"] == 25 and r["filled"] == r.filled  # the contract keys work as a mapping too
    assert emtrade.clear_orders is clear_orders  # the lazy public API


def test_call_market_interval_between_marginal_accepted_and_first_rejected():
    """Bids 30, 20; asks 10, 25 (one each). Unit 1: 30 with 10; unit 2: 20 < 25, no trade. V = 1.

    price_low = max(highest ask that trades 10, highest rejected bid 20) = 20;
    price_high = min(lowest bid that trades 30, lowest rejected ask 25) = 25; midpoint 22.5.
    """
    r = clear_orders(book([("B1", 1, 30), ("B2", 1, 20)], [("S1", 1, 10), ("S2", 1, 25)]))
    assert (r.volume, r.price_low, r.price_high, r.price) == (1, 20, 25, 22.5)
    assert r.filled == {"B1": 1, "B2": 0, "S1": 1, "S2": 0}


def test_pro_rata_tie_among_bids():
    """Bids A 4 @30, B 2 @20, C 6 @20; ask S 8 @10.

    D(20) = 12 ≥ S = 8, so V = 8. A takes 4 in full; B and C (8 kg at 20) share the other 4 pro rata:
    B 4·2/8 = 1, C 4·6/8 = 3. The marginal bid 20 is both accepted and rejected: interval [20, 20].
    """
    r = clear_orders(book([("A", 4, 30), ("B", 2, 20), ("C", 6, 20)], [("S", 8, 10)]))
    assert r.volume == 8
    assert r.filled == {"A": 4, "B": 1, "C": 3, "S": 8}
    assert (r.price_low, r.price_high, r.price) == (20, 20, 20)
    assert list(r.orders.status) == ["filled", "partial", "partial", "filled"]


def test_pro_rata_tie_among_asks():
    """Bid 3 @30; asks X 2 @10, Y 4 @10. V = 3; X and Y share 3 of their 6: X 1, Y 2.

    The marginal ask 10 is partly unsold: price_high = min(30, 10) = 10, price_low = 10.
    """
    r = clear_orders(book([("B", 3, 30)], [("X", 2, 10), ("Y", 4, 10)]))
    assert r.volume == 3
    assert r.filled == {"B": 3, "X": 1, "Y": 2}
    assert (r.price_low, r.price_high, r.price) == (10, 10, 10)


def test_pro_rata_shares_are_exact_for_decimal_quantities():
    """0.1 + 0.2 at the margin against 0.3: exactly full, not 0.30000000000000004 vs 0.3 noise."""
    r = clear_orders(book([("a", 0.1, 20), ("b", 0.2, 20)], [("s", 0.3, 10)]))
    assert r.filled == {"a": 0.1, "b": 0.2, "s": 0.3}
    assert r.volume == pytest.approx(0.3, rel=1e-15)
    # both sides cleared in full: [max(ask 10), min(bid 20)] = [10, 20]
    assert (r.price_low, r.price_high, r.price) == (10, 20, 15)


def test_empty_cross_trades_nothing():
    """Bids 10, 12 (2 kg); asks 15, 20. The best bid 12 < the best ask 15: V = 0.

    The interval is every price between the highest bid and the lowest ask, [12, 15]; price 13.5.
    """
    r = clear_orders(book([("b1", 1, 10), ("b2", 2, 12)], [("a1", 1, 15), ("a2", 1, 20)]))
    assert r.volume == 0
    assert set(r.filled.values()) == {0}
    assert (r.price_low, r.price_high, r.price) == (12, 15, 13.5)


def test_auction_excess_demand_price_is_the_highest_rejected_bid():
    """Supply 8; bids A 4 @50, B 4 @40, C 4 @30, D 4 @20. Cumulative demand 4, 8: A and B win in full.

    Interval [highest rejected bid 30, lowest accepted bid 40]; the auction price is its lower end, 30.
    """
    r = clear_orders(book([("A", 4, 50), ("B", 4, 40), ("C", 4, 30), ("D", 4, 20)]), supply=8)
    assert (r.volume, r.unsold) == (8, 0)
    assert r.filled == {"A": 4, "B": 4, "C": 0, "D": 0}
    assert (r.price_low, r.price_high, r.price) == (30, 40, 30)
    assert r.mode == "auction"


def test_auction_rationed_marginal_bid_sets_the_price():
    """Supply 10, same bids: A and B take 8, C (4 @30) gets the last 2; the price is C's bid, 30 = [30, 30]."""
    r = clear_orders(book([("A", 4, 50), ("B", 4, 40), ("C", 4, 30), ("D", 4, 20)]), supply=10)
    assert r.filled == {"A": 4, "B": 4, "C": 2, "D": 0}
    assert (r.price_low, r.price_high, r.price, r.volume) == (30, 30, 30, 10)


def test_auction_pro_rata_at_the_margin():
    """Supply 6; bids A 4 @50, B 1 @40, C 3 @40. A takes 4; B and C share 2 of 4: B 0.5, C 1.5; price 40."""
    r = clear_orders(book([("A", 4, 50), ("B", 1, 40), ("C", 3, 40)]), supply=6)
    assert r.filled == {"A": 4, "B": 0.5, "C": 1.5}
    assert (r.price, r.volume) == (40, 6)


def test_auction_reserve_price_above_the_highest_rejected_bid():
    """Supply 8, reserve 35: C @30 and D @20 are rejected by the reserve; A and B take 8.

    Interval [max(35, no rejected bid above the reserve), 40] = [35, 40]: price 35, the reserve.
    """
    r = clear_orders(book([("A", 4, 50), ("B", 4, 40), ("C", 4, 30), ("D", 4, 20)]), supply=8, reserve_price=35)
    assert r.filled == {"A": 4, "B": 4, "C": 0, "D": 0}
    assert (r.price_low, r.price_high, r.price) == (35, 40, 35)
    assert list(r.orders.status) == ["filled", "filled", "below reserve", "below reserve"]


def test_auction_excess_supply_sells_at_the_reserve_price():
    """Supply 10, reserve 12; bids A 4 @20, B 4 @15, C 5 @10. C is below the reserve; A + B = 8 < 10.

    Everything bid above the reserve is sold, 2 kg are unsold, the price is the reserve: [12, 12].
    """
    r = clear_orders(book([("A", 4, 20), ("B", 4, 15), ("C", 5, 10)]), supply=10, reserve_price=12)
    assert r.filled == {"A": 4, "B": 4, "C": 0}
    assert (r.volume, r.unsold) == (8, 2)
    assert (r.price_low, r.price_high, r.price) == (12, 12, 12)


def test_auction_excess_supply_without_reserve_is_free():
    """Supply 20; bids 4 @50, 4 @40: 8 sold, 12 unsold, price 0 (no reserve price)."""
    r = clear_orders(book([("A", 4, 50), ("B", 4, 40)]), supply=20)
    assert (r.volume, r.unsold, r.price, r.price_low, r.price_high) == (8, 12, 0, 0, 0)


def test_auction_demand_equal_to_supply():
    """Supply 8; bids 4 @50, 4 @40: all sold, nothing rejected: interval [0, 40], price 0 (no reserve)."""
    r = clear_orders(book([("A", 4, 50), ("B", 4, 40)]), supply=8)
    assert (r.volume, r.unsold, r.price_low, r.price_high, r.price) == (8, 0, 0, 40, 0)


def test_call_market_reserve_price_is_a_floor():
    """Bids 30, 18; asks 5, 6 (one each); reserve 20. Bid 18 is rejected; the asks count as asks at 20.

    One unit of demand against two asks at 20: V = 1, each ask sells 0.5; interval [20, 20].
    """
    r = clear_orders(book([("B1", 1, 30), ("B2", 1, 18)], [("S1", 1, 5), ("S2", 1, 6)]), reserve_price=20)
    assert r.filled == {"B1": 1, "B2": 0, "S1": 0.5, "S2": 0.5}
    assert (r.price_low, r.price_high, r.price, r.volume) == (20, 20, 20, 1)


def test_all_bids_below_reserve_in_a_call_market():
    """Bids 5, 8; ask 10; reserve 9: no bid left, V = 0; interval [reserve 9, lowest ask 10]; price 9.5."""
    r = clear_orders(book([("B1", 1, 5), ("B2", 1, 8)], [("S1", 1, 10)]), reserve_price=9)
    assert (r.volume, r.price_low, r.price_high, r.price) == (0, 9, 10, 9.5)


def test_dataframe_list_and_csv_give_the_same_result(tmp_path):
    rows = book([("b30", 1, 30), ("b25", 1, 25), ("b20", 1, 20), ("b15", 1, 15)], [("a25", 1, 25), ("a20", 1, 20)])
    frame = pd.DataFrame(rows)
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    results = [clear_orders(x).to_dict() for x in (rows, frame, path, str(path))]
    assert all(r == results[0] for r in results)
    assert tuple(results[0]) == RESULT_KEYS


def test_gbk_csv_with_chinese_ids_and_notes(tmp_path):
    text = "id,side,quantity,price,info_企业\n竹埠港-1,BID,2,30,买方\n易俗河-1,Ask,2,10,卖方\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("gbk"))
    r = clear_orders(path)
    assert r.filled == {"竹埠港-1": 2, "易俗河-1": 2}
    assert (r.price_low, r.price_high, r.price) == (10, 30, 20)


def test_xlsx_book(tmp_path):
    path = tmp_path / "orders.xlsx"
    pd.DataFrame(book([("b", 2, 30)], [("a", 1, 10)])).to_excel(path, index=False)
    r = clear_orders(path)
    # one unit trades; the bid is only partly filled, so price_low = 30 = price_high
    assert (r.volume, r.price, r.filled["b"]) == (1, 30, 1)


# --- bad input ------------------------------------------------------------------------------------


def problems_of(orders, **kw) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        clear_orders(orders, **kw)
    return [str(p) for p in exc.value.problems]


def test_every_bad_row_is_reported_at_once_with_file_line_and_column(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "id,side,quantity,price\n"
        "A,bid,1,30\n"
        "B,buy,1,20\n"  # line 3: unknown side
        "C,ask,-2,10\n"  # line 4: negative quantity
        "D,ask,1,abc\n"  # line 5: price not a number
        "E,bid,nan,5\n"  # line 6: NaN
        "F,ask,1,inf\n"  # line 7: inf
        "A,ask,1,12\n"  # line 8: duplicate id
        "G,bid,1,-3\n",  # line 9: negative price
        encoding="utf-8",
    )
    got = problems_of(path)
    p = str(path)
    assert got == [
        f"{p}: line 3 (id B): side 'buy' is not one of bid or ask",
        f"{p}: line 4 (id C): quantity must be > 0, got '-2'",
        f"{p}: line 5 (id D): price 'abc' is not a number",
        f"{p}: line 6 (id E): quantity must be a finite number, got 'nan'",
        f"{p}: line 7 (id F): price must be a finite number, got 'inf'",
        f"{p}: line 8 (id A): id 'A' appears twice (first at line 2)",
        f"{p}: line 9 (id G): price must be ≥ 0, got '-3'",
    ]


def test_missing_and_unknown_columns_are_reported_once(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,side,qty,price\nA,bid,1,30\nB,ask,1,20\n", encoding="utf-8")
    got = problems_of(path)
    assert len(got) == 2
    assert got[0] == f"{path}: line 1: missing column quantity"
    assert got[1].startswith(f"{path}: line 1: unknown column 'qty'")


def test_empty_book(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,side,quantity,price\n", encoding="utf-8")
    assert problems_of(path) == [f"{path}: the order book is empty: no orders"]
    assert problems_of([]) == ["<orders>: the order book is empty: no orders"]


def test_dataframe_nan_and_missing_values():
    frame = pd.DataFrame(
        {
            "id": ["A", None, "C"],
            "side": ["bid", "ask", "ask"],
            "quantity": [1.0, 1.0, float("nan")],
            "price": [1.0, 2.0, 3.0],
        }
    )
    assert problems_of(frame) == [
        "<orders>: row 1: missing id",
        "<orders>: row 2 (id C): quantity must be a finite number, got nan",
    ]


def test_the_book_must_fit_the_market():
    bids_only = book([("A", 1, 10)])
    asks_only = book(asks=[("S", 1, 10)])
    both = book([("A", 1, 10)], [("S", 1, 5)])
    assert problems_of(bids_only) == [
        "<orders>: the book holds bids but no asks: give a supply for an auction of permits"
    ]
    assert problems_of(asks_only) == ["<orders>: the book holds asks but no bids: nothing can trade"]
    (msg,) = problems_of(both, supply=5)
    assert "takes bids only" in msg and "orders[1] (id S)" in msg
    assert problems_of(bids_only, supply=0, reserve_price=float("nan")) == [
        "<orders>: supply: must be > 0, got 0",
        "<orders>: reserve_price: must be a finite number, got nan",
    ]


# --- property test against brute force ------------------------------------------------------------


def brute_force(bids, asks, supply=None, reserve=None):
    """Volume by two independent brute forces, and the set of clearing prices on a grid.

    ``bids``/``asks`` are (quantity, price) with integer quantities. The effective book applies the floor:
    bids below the reserve are gone; asks below it count as asks at it; an auction is one ask of the
    supply at the floor.
    """
    floor = reserve if reserve is not None else 0
    eb = [(q, p) for q, p in bids if reserve is None or p >= reserve]
    ea = [(supply, floor)] if supply is not None else [(q, max(p, floor)) for q, p in asks]

    def D(p, strict=False):
        return sum(q for q, b in eb if (b > p if strict else b >= p))

    def S(p, strict=False):
        return sum(q for q, a in ea if (a < p if strict else a <= p))

    candidates = sorted({p for _, p in eb} | {a for _, a in ea} | {floor})
    v_maxmin = max(min(D(p), S(p)) for p in candidates)
    # unit by unit: the k-th highest unit bid meets the k-th lowest unit ask while bid ≥ ask
    unit_bids = sorted((p for q, p in eb for _ in range(q)), reverse=True)
    unit_asks = sorted(a for q, a in ea for _ in range(q))
    v_units = sum(1 for b, a in zip(unit_bids, unit_asks, strict=False) if b >= a)
    return v_maxmin, v_units, D, S, candidates


prices = st.integers(min_value=0, max_value=12)
quantities = st.integers(min_value=1, max_value=5)
sides = st.lists(st.tuples(quantities, prices), min_size=1, max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bids=sides,
    asks=sides,
    auction=st.booleans(),
    supply=st.integers(min_value=1, max_value=30),
    reserve=st.one_of(st.none(), prices),
)
def test_clearing_matches_brute_force(bids, asks, auction, supply, reserve):
    supply = supply if auction else None
    orders = book(
        [(f"b{k}", q, p) for k, (q, p) in enumerate(bids)],
        [] if auction else [(f"a{k}", q, p) for k, (q, p) in enumerate(asks)],
    )
    r = clear_orders(orders, supply=supply, reserve_price=reserve)
    v_maxmin, v_units, D, S, candidates = brute_force(bids, asks, supply, reserve)
    floor = reserve if reserve is not None else 0

    # the volume: both brute forces
    assert v_maxmin == v_units
    assert r.volume == pytest.approx(v_maxmin, abs=1e-9)
    # fills: within the orders, both sides add up to the volume
    fb = {o["id"]: r.filled[o["id"]] for o in orders if o["side"] == "bid"}
    fa = {o["id"]: r.filled[o["id"]] for o in orders if o["side"] == "ask"}
    assert sum(fb.values()) == pytest.approx(r.volume, abs=1e-9)
    if auction:
        assert r.unsold == pytest.approx(supply - r.volume, abs=1e-9) and r.unsold >= -1e-12
    else:
        assert sum(fa.values()) == pytest.approx(r.volume, abs=1e-9)
    for o in orders:
        f = r.filled[o["id"]]
        assert -1e-12 <= f <= o["quantity"] + 1e-12
        # every filled order is willing at the price; every order strictly willing is filled in full
        eff = max(o["price"], floor) if o["side"] == "ask" else o["price"]
        if o["side"] == "bid":
            if f > 0:
                assert eff >= r.price
            if reserve is not None and o["price"] < reserve:
                assert f == 0
            elif eff > r.price:
                assert f == pytest.approx(o["quantity"])
        else:
            if f > 0:
                assert eff <= r.price
            if eff < r.price:
                assert f == pytest.approx(o["quantity"])
    # pro rata: orders on the same side at the same price get the same share
    for side_fills in (fb, fa):
        shares: dict[float, set[Fraction]] = {}
        for o in orders:
            if o["id"] in side_fills:
                shares.setdefault(o["price"], set()).add(Fraction(side_fills[o["id"]]) / o["quantity"])
        for s in shares.values():
            assert max(s) - min(s) < Fraction(1, 10**12)
    # the interval: exactly the grid prices p ≥ floor with D⁺(p) ≤ V ≤ D(p) and S⁻(p) ≤ V ≤ S(p)
    v = v_maxmin
    grid = sorted(set(candidates) | {c + 0.5 for c in candidates} | {min(candidates) - 0.5})
    for p in grid:
        clears = p >= floor and D(p, strict=True) <= v <= D(p) and S(p, strict=True) <= v <= S(p)
        assert clears == (r.price_low <= p <= r.price_high), (p, r.price_low, r.price_high)
    assert r.price_low <= r.price <= r.price_high
    assert r.price == (r.price_low if auction else (r.price_low + r.price_high) / 2)


# --- the command line -----------------------------------------------------------------------------

ISSUE_BOOK = (
    "id,side,quantity,price\nb30,bid,1,30\nb25,bid,1,25\nb20,bid,1,20\nb15,bid,1,15\na25,ask,1,25\na20,ask,1,20\n"
)


def test_cli_clear_writes_the_json_contract(tmp_path):
    (tmp_path / "orders.csv").write_text(ISSUE_BOOK, encoding="utf-8")
    out = tmp_path / "res" / "result.json"
    proc = run_cli("clear", tmp_path / "orders.csv", "-o", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data) == ["price", "price_low", "price_high", "volume", "filled"]
    assert (data["price"], data["price_low"], data["price_high"], data["volume"]) == (25, 25, 25, 2)
    assert data["filled"] == {"b30": 1, "b25": 1, "b20": 0, "b15": 0, "a25": 1, "a20": 1}
    assert "call market: 2 kg traded" in proc.stdout and "25 CNY/kg" in proc.stdout
    assert [p.name for p in out.parent.iterdir()] == ["result.json"]  # no temporary file left behind


def test_cli_clear_auction(tmp_path):
    (tmp_path / "bids.csv").write_text("id,side,quantity,price\nA,bid,4,50\nB,bid,4,40\nC,bid,4,30\n", encoding="utf-8")
    out = tmp_path / "auction.json"
    proc = run_cli("clear", tmp_path / "bids.csv", "--supply", "8", "--reserve-price", "10", "-o", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["price"], data["price_low"], data["price_high"], data["volume"]) == (30, 30, 40, 8)
    assert data["filled"] == {"A": 4, "B": 4, "C": 0}
    assert "0 kg unsold" in proc.stdout


def test_cli_clear_bad_book_exits_2_with_one_line_per_problem(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,side,quantity,price\nA,bid,1,30\nB,sell,1,x\nA,ask,-1,20\n", encoding="utf-8")
    out = tmp_path / "result.json"
    proc = run_cli("clear", path, "-o", out)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert all(ln.startswith("error: ") for ln in lines)
    assert len(lines) == 4, lines
    assert f"{path}: line 3 (id B): side 'sell'" in lines[0]
    assert f"{path}: line 3 (id B): price 'x' is not a number" in lines[1]
    assert not out.exists()


def test_cli_clear_missing_file(tmp_path):
    proc = run_cli("clear", tmp_path / "nope.csv")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: file not found"


def test_save_replaces_an_existing_file_atomically(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    clear_orders(book([("b", 1, 30)], [("a", 1, 10)])).save(target)
    assert json.loads(target.read_text(encoding="utf-8"))["volume"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
