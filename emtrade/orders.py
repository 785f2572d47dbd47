"""Call markets and sealed-bid uniform-price auctions of permits: one price, pro-rata ties at the margin.

A book of orders, each with an ``id``, a ``side`` (``bid`` to buy, ``ask`` to sell), a ``quantity`` of
permits (kg of discharge rights, for example kg/yr of Pb) and a limit ``price`` (CNY/kg), clears at one
price for everyone (:func:`clear_orders`). Two kinds of market:

- a **call market** (the trading platform): bids and asks, no ``supply``;
- a **sealed-bid uniform-price auction** of ``supply`` permits by the government: bids only.

Symbols
-------
Bid i has the limit price b_i (CNY/kg) and the quantity q_i (kg); ask j has a_j and q_j. At a price p

    D(p)  = Σ_{i: b_i ≥ p} q_i     demand, counting bidders who are indifferent (b_i = p)
    D⁺(p) = Σ_{i: b_i > p} q_i     demand of those who strictly want to buy
    S(p)  = Σ_{j: a_j ≤ p} q_j     supply, counting indifferent sellers
    S⁻(p) = Σ_{j: a_j < p} q_j     supply of those who strictly want to sell

The floor
---------
The reserve price r is a price floor. Bids below r are rejected (filled 0) before clearing. In an
auction the supply is one ask of Q at the floor (r, or 0 without a reserve price). In a call market an
ask below r counts as an ask at r: nobody trades below the reserve price.

Clearing
--------
1. **Volume.** V = max_p min(D(p), S(p)): the largest quantity at which demand is at least supply.
   It is found by the merit order: the highest bids meet the lowest asks, unit by unit, while the bid
   is at least the ask. (The tests check it against the maximum over all candidate prices.)
2. **Fills, pro rata at the margin.** The V-th unit of demand falls in the marginal bid level b*
   (the lowest bid price that trades). Every bid above b* is filled in full; the bids at exactly b*
   share what is left, V − D⁺(b*), in proportion to their quantities; bids below b* get nothing.
   Asks likewise around the marginal ask a*.
3. **The interval of clearing prices** is the set of prices at which this outcome is an equilibrium:
   every filled order is willing, and every order that strictly wants to trade more is filled in full,

       P = {p ≥ floor : D⁺(p) ≤ V ≤ D(p) and S⁻(p) ≤ V ≤ S(p)} = [price_low, price_high]

   with price_low = max(floor, the highest ask price that trades, the highest bid price not filled in
   full) and price_high = min(the lowest bid price that trades, the lowest ask price not filled in
   full): between the marginal accepted and the first rejected orders. It is never empty and always
   finite (a book with bids only or asks only and no supply is refused).
4. **The price** is one deterministic point of the interval:

   - call market: its **midpoint**, as emtrade's step markets use (:mod:`emtrade.model.readout`);
   - auction: its **lower end**, the standard uniform-price rule (RGGI's): every winner pays the
     **highest rejected bid**, or the reserve price if that is higher. When the bids above the reserve
     price ask for no more than the supply nothing is rejected: all of them win, the rest of the supply
     is unsold, and the price is the reserve price (0 without one). If the marginal bid is rationed it
     is both accepted and rejected, and the price is its bid. (The other common rule, the lowest
     accepted bid as in the EU ETS, is price_high.)

Example (the tests): bids 30, 25, 20, 15 and asks 20, 25, one unit each. The merit order trades 30
with 20 and 25 with 25; the third unit would pair a bid of 20 with no ask, so V = 2. The ask at 25
only sells at p ≥ 25 and the bid at 25 only buys at p ≤ 25, so the interval is [25, 25] and the price
25. (At 22.5, say, the ask at 25 would not sell and only one unit could trade.)

Exactness: a quantity is read as the decimal it is written as (0.1 is one tenth, not the binary float
nearest to it), and quantities are summed and compared as exact fractions. So ties are ties, and bids of
0.1 and 0.2 exactly meet an ask of 0.3 (in binary floats 0.1 + 0.2 > 0.3, which would ration the bids
and move the price); fills and the volume are then rounded to the nearest float.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from emtrade.errors import Problem, ScenarioError
from emtrade.scenario.schema import Id

#: the columns of an order book, in the order they are shown
COLUMNS = ("id", "side", "quantity", "price")
#: the keys of the JSON result: a contract, users' scripts rely on them
RESULT_KEYS = ("price", "price_low", "price_high", "volume", "filled")
#: rows shown by :meth:`ClearingResult.to_text` before "... more"
SHOWN_ROWS = 30


def _side(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


class Order(BaseModel):
    """One order of the book: buy (``bid``) or sell (``ask``) up to ``quantity`` permits at ``price`` or better."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, frozen=True)

    id: Id = Field(description="Unique identifier of the order (text).")
    side: Annotated[Literal["bid", "ask"], BeforeValidator(_side)] = Field(
        description="bid (buy) or ask (sell); any case."
    )
    quantity: float = Field(gt=0, le=1e12, description="Permits to buy or sell, kg.")
    price: float = Field(ge=0, le=1e15, description="Limit price, CNY/kg: the most a bid pays, the least an ask takes.")


_ORDER = TypeAdapter(Order)


@dataclass(frozen=True)
class ClearingResult:
    """The outcome of one clearing.

    ``price``, ``price_low``, ``price_high`` (CNY/kg), ``volume`` (kg traded or sold) and ``filled``
    (order id → kg filled, every order in the book's order) are the contract written by
    :meth:`to_dict` and :meth:`save`. The rest is for people: ``mode`` ('call' or 'auction'),
    ``supply`` and ``unsold`` (kg, auctions), ``reserve_price`` and ``orders`` (the book with
    ``filled`` and ``status``: filled, partial, rejected, below reserve).
    """

    price: float
    price_low: float
    price_high: float
    volume: float
    filled: dict[str, float]
    mode: Literal["call", "auction"]
    supply: float | None = None
    reserve_price: float | None = None
    unsold: float | None = None
    orders: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The contract: exactly ``price``, ``price_low``, ``price_high``, ``volume`` and ``filled``."""
        return {
            "price": self.price,
            "price_low": self.price_low,
            "price_high": self.price_high,
            "volume": self.volume,
            "filled": dict(self.filled),
        }

    def __getitem__(self, key: str) -> Any:
        if key not in RESULT_KEYS:
            raise KeyError(key)
        return getattr(self, key) if key != "filled" else dict(self.filled)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON to ``path``, atomically: a temporary file in the same folder,
        then ``os.replace``, so a reader sees the old file or the new one, never half of one."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def to_text(self, max_rows: int = SHOWN_ROWS) -> str:
        """A terse table for the terminal: the price, its interval, the volume and the orders."""
        lo, hi = self.price_low, self.price_high
        interval = f"[{_fmt(lo)}, {_fmt(hi)}]"
        if self.mode == "auction":
            head = (
                f"uniform-price auction of {_fmt(self.supply)} kg: {_fmt(self.volume)} kg sold, "
                f"{_fmt(self.unsold)} kg unsold"
            )
            rule = "highest rejected bid or reserve price"
        else:
            head = f"call market: {_fmt(self.volume)} kg traded"
            rule = "midpoint of the interval"
        lines = [
            head,
            f"  price            {_fmt(self.price)} CNY/kg ({rule})",
            f"  clearing prices  {interval} CNY/kg",
        ]
        if self.reserve_price is not None:
            lines.append(f"  reserve price    {_fmt(self.reserve_price)} CNY/kg")
        book = self.orders
        if len(book):
            w = max(4, min(24, int(book["id"].str.len().max())))
            lines.append(f"  {'id':<{w}}  side  {'quantity':>12}  {'price':>12}  {'filled':>12}  status")
            for r in book.head(max_rows).itertuples(index=False):
                lines.append(
                    f"  {str(r.id)[:w]:<{w}}  {r.side:<4}  {_fmt(r.quantity):>12}  {_fmt(r.price):>12}  "
                    f"{_fmt(r.filled):>12}  {r.status}"
                )
            if len(book) > max_rows:
                lines.append(f"  ... {len(book) - max_rows} more orders (all of them in the JSON written by -o)")
        return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"


# --------------------------------------------------------------------------------------------------
# reading and validating the book


@dataclass
class _Book:
    ids: list[str]
    side: np.ndarray  # True for bids
    quantity: np.ndarray  # float, kg
    price: np.ndarray  # float, CNY/kg


def _raw_rows(orders: Any) -> tuple[str, list[dict[str, Any]], list[str], list[str] | None, list[Problem]]:
    """(source, rows, where-labels, columns or None for lists of dicts, problems that stop reading)."""
    if isinstance(orders, str | os.PathLike):
        from emtrade.scenario.tables import read_table_file

        path = Path(orders)
        display = str(orders)
        table, problems = read_table_file(path, display)
        if problems or table is None:
            return display, [], [], None, problems
        rows = [{k: (v.strip() if isinstance(v, str) else v) for k, v in r.items()} for r in table.rows]
        rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in rows]
        return display, rows, [f"line {n}" for n in table.lines], list(table.columns), []
    if isinstance(orders, pd.DataFrame):
        cols = [str(c).strip() for c in orders.columns]
        frame = orders.set_axis(cols, axis=1)
        rows = [_drop_missing(r) for r in frame.to_dict("records")]
        return "<orders>", rows, [f"row {i}" for i in frame.index], cols, []
    if isinstance(orders, Iterable) and not isinstance(orders, bytes | Mapping):
        items = list(orders)
        rows, problems = [], []
        for i, r in enumerate(items):
            if not isinstance(r, Mapping):
                problems.append(Problem("<orders>", f"orders[{i}]", "each order must be a mapping of keys to values"))
                rows.append({})
            else:
                rows.append(_drop_missing({str(k).strip(): v for k, v in r.items()}))
        if problems:
            return "<orders>", [], [], None, problems
        return "<orders>", rows, [f"orders[{i}]" for i in range(len(items))], None, []
    raise TypeError(f"orders must be a DataFrame, a list of dicts or the path of a CSV/xlsx file, not {type(orders)}")


def _drop_missing(row: Mapping[str, Any]) -> dict[str, Any]:
    """None is "not given"; NaN in a text column (id, side) too. NaN in a number column stays, to be refused."""
    out = {}
    for k, v in row.items():
        if v is None or (k in ("id", "side") and isinstance(v, float) and math.isnan(v)):
            continue
        out[k] = v
    return out


def _read_book(orders: Any) -> tuple[_Book | None, str, list[tuple[str, str]] | None, list[Problem]]:
    """The valid orders, the source, the (side, where) of every row (None if a side is unreadable), problems."""
    from emtrade.scenario.loader import _describe, _separator_message, separated_numbers  # the loader's wording

    source, rows, wheres, columns, problems = _raw_rows(orders)
    if problems:
        return None, source, None, problems
    missing_cols: set[str] = set()
    if columns is not None:
        header = "line 1" if source != "<orders>" else "columns"
        for c in COLUMNS:
            if c not in columns:
                problems.append(Problem(source, header, f"missing column {c}"))
                missing_cols.add(c)
        for c in columns:
            if c not in COLUMNS and not c.startswith("info_"):
                problems.append(
                    Problem(
                        source,
                        header,
                        f"unknown column '{c}' (expected {', '.join(COLUMNS)}; columns named info_* are kept as notes)",
                    )
                )
    if not rows:
        problems.append(Problem(source, "", "the order book is empty: no orders"))
        return None, source, None, problems
    ids: list[str] = []
    side, qty, price = [], [], []
    sides: list[tuple[str, str]] | None = []
    first_seen: dict[str, str] = {}
    for row, where in zip(rows, wheres, strict=True):
        row = {k: v for k, v in row.items() if not k.startswith("info_")}
        if columns is not None:
            row = {k: v for k, v in row.items() if k in COLUMNS}
        label = row.get("id")
        at = f"{where} (id {label})" if label not in (None, "") else where
        key = _id_key(label)
        if key is not None:
            if key in first_seen:
                problems.append(Problem(source, at, f"id '{key}' appears twice (first at {first_seen[key]})"))
            else:
                first_seen[key] = where
        row_side = _side(row.get("side"))
        if sides is not None and row_side in ("bid", "ask"):
            sides.append((row_side, at))
        else:
            sides = None  # a side that cannot be read: do not guess what kind of market the book is
        try:
            order = _ORDER.validate_python(row)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = ".".join(str(p) for p in err["loc"])
                if err["type"] == "missing" and name in missing_cols:
                    continue  # said once for the whole table
                problems.append(Problem(source, at, _describe(err, name)))
            continue
        for loc in separated_numbers(_ORDER.validate_python, row, order):  # 1_00 is no number (issue 11)
            problems.append(Problem(source, at, _separator_message(".".join(map(str, loc)), row, loc)))
        ids.append(order.id)
        side.append(order.side == "bid")
        qty.append(order.quantity)
        price.append(order.price)
    book = _Book(ids, np.array(side, dtype=bool), np.array(qty, dtype=float), np.array(price, dtype=float))
    return book, source, sides, problems


def _id_key(value: Any) -> str | None:
    """The id as the schema reads it (``17`` and ``"17"`` are the same id), or None if it has none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    return text or None


def _check_number(name: str, value: Any, strictly_positive: bool) -> tuple[float | None, list[Problem]]:
    if value is None:
        return None, []
    if isinstance(value, bool):
        return None, [Problem("", name, f"{value!r} is not a number")]
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None, [Problem("", name, f"{value!r} is not a number")]
    if not math.isfinite(v):
        return None, [Problem("", name, f"must be a finite number, got {value!r}")]
    if strictly_positive and v <= 0:
        return None, [Problem("", name, f"must be > 0, got {value!r}")]
    if v < 0:
        return None, [Problem("", name, f"must be ≥ 0, got {value!r}")]
    return v, []


# --------------------------------------------------------------------------------------------------
# clearing


def clear_orders(
    orders: pd.DataFrame | Sequence[Mapping[str, Any]] | str | os.PathLike,
    supply: float | None = None,
    reserve_price: float | None = None,
) -> ClearingResult:
    """Clear a book of orders at one uniform price; ties at the margin are rationed pro rata.

    Parameters
    ----------
    orders
        A DataFrame, a list of dicts, or the path of a CSV (UTF-8 or GBK) or .xlsx file, with the
        columns ``id`` (text, unique), ``side`` (``bid`` or ``ask``), ``quantity`` (kg, > 0) and
        ``price`` (CNY/kg, ≥ 0). Columns named ``info_*`` are notes and are ignored.
    supply
        Permits for sale, kg (> 0). Given: a sealed-bid uniform-price auction, and the book must hold
        bids only. Not given: a call market, and the book must hold both bids and asks.
    reserve_price
        A price floor, CNY/kg (≥ 0): bids below it are rejected, nothing trades below it.

    Returns
    -------
    ClearingResult
        ``price``, ``price_low``, ``price_high`` (CNY/kg), ``volume`` (kg) and ``filled`` (id → kg).
        The rules (volume, pro-rata fills, the interval, which point is the price) are in the
        docstring of :mod:`emtrade.orders`.

    Raises
    ------
    ScenarioError
        Every problem of the book at once, each naming the file, line (or row) and column.

    Examples
    --------
    A call market: the bid at 30 meets the ask at 20, the bid at 25 the ask at 25; the bid at 20 finds
    no ask left. Two kg trade, and 25 is the only price that clears the book:

    >>> from emtrade import clear_orders
    >>> book = [
    ...     {"id": "b1", "side": "bid", "quantity": 1, "price": 30},
    ...     {"id": "b2", "side": "bid", "quantity": 1, "price": 25},
    ...     {"id": "b3", "side": "bid", "quantity": 1, "price": 20},
    ...     {"id": "s1", "side": "ask", "quantity": 1, "price": 25},
    ...     {"id": "s2", "side": "ask", "quantity": 1, "price": 20},
    ... ]
    >>> r = clear_orders(book)
    >>> r.price, r.price_low, r.price_high, r.volume
    (25.0, 25.0, 25.0, 2.0)
    >>> r.filled
    {'b1': 1.0, 'b2': 1.0, 'b3': 0.0, 's1': 1.0, 's2': 1.0}

    A uniform-price auction of 1.5 kg of the same bids: the highest rejected bid sets the price.

    >>> bids = [o for o in book if o["side"] == "bid"]
    >>> r = clear_orders(bids, supply=1.5)
    >>> r.price, r.volume, r.filled
    (25.0, 1.5, {'b1': 1.0, 'b2': 0.5, 'b3': 0.0})
    """
    book, source, sides, problems = _read_book(orders)
    q_supply, p1 = _check_number("supply", supply, strictly_positive=True)
    floor_r, p2 = _check_number("reserve_price", reserve_price, strictly_positive=False)
    problems += [Problem(source, p.where, p.message) for p in p1 + p2]
    if sides:
        ask_rows = [at for s, at in sides if s == "ask"]
        n_bids, n_asks = len(sides) - len(ask_rows), len(ask_rows)
        if supply is not None and n_asks:
            first = ask_rows[0]
            problems.append(
                Problem(
                    source,
                    "",
                    f"an auction of a given supply takes bids only, but the book holds {n_asks} "
                    f"ask{'s' if n_asks > 1 else ''} (first: {first}); leave out the supply for a call market",
                )
            )
        elif supply is None and not n_asks:
            problems.append(
                Problem(source, "", "the book holds bids but no asks: give a supply for an auction of permits")
            )
        elif supply is None and not n_bids:
            problems.append(Problem(source, "", "the book holds asks but no bids: nothing can trade"))
    if problems:
        raise ScenarioError(problems)
    assert book is not None
    return _clear(book, q_supply, floor_r)


def _levels(prices: np.ndarray, qty: np.ndarray, descending: bool) -> tuple[np.ndarray, list[Fraction], np.ndarray]:
    """Distinct prices (best first), the exact total quantity at each, and each order's level index."""
    uniq, inverse = np.unique(prices, return_inverse=True)
    if descending:
        uniq = uniq[::-1]
        inverse = len(uniq) - 1 - inverse
    totals = [Fraction(0)] * len(uniq)
    for k, q in zip(inverse.tolist(), qty.tolist(), strict=True):
        totals[k] += _exact(q)
    return uniq, totals, inverse


def _exact(q: float) -> Fraction:
    """The decimal a float stands for: its shortest repr, which reads back as the same float (0.1 → 1/10)."""
    return Fraction(repr(q))


def _merit_order_volume(bp: np.ndarray, bq: list[Fraction], ap: np.ndarray, aq: list[Fraction]) -> Fraction:
    """Walk the highest bids against the lowest asks while the bid is at least the ask (exact)."""
    i = j = 0
    volume = Fraction(0)
    rb = bq[0] if bq else Fraction(0)
    ra = aq[0] if aq else Fraction(0)
    while i < len(bp) and j < len(ap) and bp[i] >= ap[j]:
        t = min(rb, ra)
        volume += t
        rb -= t
        ra -= t
        if rb == 0:
            i += 1
            rb = bq[i] if i < len(bq) else Fraction(0)
        if ra == 0:
            j += 1
            ra = aq[j] if j < len(aq) else Fraction(0)
    return volume


def _fill_side(levels_q: list[Fraction], inverse: np.ndarray, qty: np.ndarray, volume: Fraction):
    """Fill ``volume`` down the levels (best first); the marginal level pro rata.

    Returns (exact fill of each order, index of the marginal level or -1, whether it is filled in full).
    """
    fills = [Fraction(0)] * len(qty)
    if volume == 0:
        return fills, -1, True
    cum = Fraction(0)
    marginal = -1
    share = Fraction(1)
    for k, total in enumerate(levels_q):
        if cum + total >= volume:
            marginal = k
            share = (volume - cum) / total
            break
        cum += total
    assert marginal >= 0, "the volume cannot exceed one side's total"
    for n, (k, q) in enumerate(zip(inverse.tolist(), qty.tolist(), strict=True)):
        if k < marginal:
            fills[n] = _exact(q)
        elif k == marginal:
            fills[n] = _exact(q) * share
    return fills, marginal, share == 1


def _clear(book: _Book, supply: float | None, reserve: float | None) -> ClearingResult:
    auction = supply is not None
    floor = reserve if reserve is not None else 0.0
    bids = np.flatnonzero(book.side)
    asks = np.flatnonzero(~book.side)
    below = book.price[bids] < floor if reserve is not None else np.zeros(len(bids), dtype=bool)
    live = bids[~below]

    b_price = book.price[live]
    bp, bq, b_inv = _levels(b_price, book.quantity[live], descending=True)
    if auction:
        ap, aq, a_inv = np.array([floor]), [_exact(supply)], np.zeros(1, dtype=np.int64)
        a_qty = np.array([supply])
    else:
        a_price = np.maximum(book.price[asks], floor)  # nobody sells below the floor
        ap, aq, a_inv = _levels(a_price, book.quantity[asks], descending=False)
        a_qty = book.quantity[asks]

    volume = _merit_order_volume(bp, bq, ap, aq)
    b_fill, kb, b_full = _fill_side(bq, b_inv, book.quantity[live], volume)
    a_fill, ka, a_full = _fill_side(aq, a_inv, a_qty, volume)

    inf = math.inf
    # the interval: between the marginal accepted and the first rejected orders (module docstring)
    lowest_bid_trading = float(bp[kb]) if kb >= 0 else inf
    highest_ask_trading = float(ap[ka]) if ka >= 0 else -inf
    # the first level not filled in full: the marginal one if rationed, else the next (the first if none trade)
    first_b_rejected = kb + (1 if b_full else 0) if kb >= 0 else 0
    first_a_rejected = ka + (1 if a_full else 0) if ka >= 0 else 0
    highest_bid_rejected = float(bp[first_b_rejected]) if first_b_rejected < len(bp) else -inf
    lowest_ask_rejected = float(ap[first_a_rejected]) if first_a_rejected < len(ap) else inf
    price_low = max(floor, highest_ask_trading, highest_bid_rejected)
    price_high = min(lowest_bid_trading, lowest_ask_rejected)
    if not (math.isfinite(price_low) and math.isfinite(price_high) and price_low <= price_high):
        raise AssertionError(f"clearing interval [{price_low}, {price_high}] is not a finite interval (a bug)")
    price = price_low if auction else 0.5 * (price_low + price_high)

    filled = np.zeros(len(book.ids))
    filled[live] = [float(f) for f in b_fill]
    if not auction:
        filled[asks] = [float(f) for f in a_fill]
    status = np.where(filled == 0, "rejected", np.where(filled < book.quantity, "partial", "filled")).astype(object)
    status[bids[below]] = "below reserve"
    table = pd.DataFrame(
        {
            "id": pd.Series(book.ids, dtype=object),
            "side": np.where(book.side, "bid", "ask").astype(object),
            "quantity": book.quantity,
            "price": book.price,
            "filled": filled,
            "status": status,
        }
    )
    return ClearingResult(
        price=float(price),
        price_low=float(price_low),
        price_high=float(price_high),
        volume=float(volume),
        filled=dict(zip(book.ids, filled.tolist(), strict=True)),
        mode="auction" if auction else "call",
        supply=supply,
        reserve_price=reserve,
        unsold=float(_exact(supply) - volume) if auction else None,
        orders=table,
    )
