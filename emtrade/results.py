"""Results: tidy tables of one run, with units in the docs below, saved whole or not at all.

Tables (one row per ...; quantities in kg/yr, money in CNY/yr, prices in CNY/kg):

``enterprises``  enterprise × pollutant × period: enterprise, sector, zone, pollutant, period,
                 baseline, allocation, emissions, abatement, net_purchase (kg/yr; > 0 bought),
                 abatement_cost, permit_cost (CNY/yr; < 0 for sellers), market, price (CNY/kg),
                 cac_emissions, cac_abatement_cost (the same under command-and-control).
``firms``        enterprise × period: abatement_cost, permit_cost, net_cost, cac_cost, savings (CNY/yr).
``prices``       market × pollutant × period: price, price_low, price_high (CNY/kg), permits,
                 emissions, baseline, bought (kg/yr).
``caps``         cap × period: total, baseline, emissions (kg/yr), shadow_price (CNY/kg), binding,
                 role, implied_by.
``options``      option × period: level (in ``unit``), upper, cost (CNY/yr), adopted.
``abatement``    option × pollutant × period: abatement (kg/yr).

``summary`` is a dict with at least ``scenario``, ``status``, ``total_cost``, ``cac_total_cost``,
``savings`` (CNY/yr, summed over periods) and ``prices`` (the prices table as records).

Values are rounded to 12 significant digits, which removes solver noise (29.999999999999996)
and makes saved files byte-identical between runs; :meth:`Results.load` reads back exactly what
:meth:`Results.save` wrote.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIGNIFICANT_DIGITS = 12
TABLES = ("enterprises", "firms", "prices", "caps", "options", "abatement", "bank", "receptors", "flows", "limits")
#: tables that a results folder written by an older emtrade may lack
OPTIONAL_TABLES = ("bank", "receptors", "flows", "limits")
#: text columns (everything else is numeric or boolean)
TEXT_COLUMNS = {
    "enterprise",
    "sector",
    "zone",
    "pollutant",
    "period",
    "market",
    "cap",
    "role",
    "implied_by",
    "kind",
    "name",
    "unit",
    "status",
    "receptor",
    "from",
    "to",
    "section",
    "water_class",
}
BOOL_COLUMNS = {"binding", "adopted"}
INT_COLUMNS = {"option"}
UNITS = {
    "emissions": "kg/yr",
    "abatement": "kg/yr",
    "baseline": "kg/yr",
    "allocation": "kg/yr",
    "net_purchase": "kg/yr (positive = bought)",
    "abatement_cost": "CNY/yr",
    "permit_cost": "CNY/yr (negative = revenue from sales)",
    "total_cost": "CNY/yr, summed over periods",
    "price": "CNY/kg",
    "shadow_price": "CNY/kg",
}


def round_sig(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """Round to ``digits`` significant digits, elementwise; inf and NaN pass through."""
    v = np.asarray(values, dtype=float)
    out = v.copy()
    out[np.abs(v) < 1e-250] = 0.0  # denormal noise: 10**(digits − log10) would overflow
    finite = np.isfinite(v) & (np.abs(v) >= 1e-250)
    if finite.any():
        mags = np.floor(np.log10(np.abs(v[finite])))
        scale = 10.0 ** (digits - 1 - mags)
        out[finite] = np.round(v[finite] * scale) / scale
    out[out == 0] = 0.0  # no negative zeros in files
    return out


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Round float columns to significant digits and give text columns a plain object dtype."""
    df = df.copy()
    for col in df.columns:
        if col in BOOL_COLUMNS:
            df[col] = df[col].astype(bool)
        elif col in TEXT_COLUMNS:
            df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str).astype(object)
        elif pd.api.types.is_float_dtype(df[col]):
            df[col] = round_sig(df[col].to_numpy(dtype=float))
        elif pd.api.types.is_integer_dtype(df[col]):
            df[col] = df[col].astype(np.int64)
    return df.reset_index(drop=True)


@dataclass
class Results:
    """The outcome of one run: tidy tables and a summary dict. Frozen by convention: treat as read-only."""

    summary: dict[str, Any]
    enterprises: pd.DataFrame
    firms: pd.DataFrame
    prices: pd.DataFrame
    caps: pd.DataFrame
    options: pd.DataFrame
    abatement: pd.DataFrame
    bank: pd.DataFrame = field(default_factory=pd.DataFrame)
    receptors: pd.DataFrame = field(default_factory=pd.DataFrame)
    flows: pd.DataFrame = field(default_factory=pd.DataFrame)
    limits: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summary = _json_safe(self.summary)
        for name in TABLES:
            setattr(self, name, tidy(getattr(self, name)))

    @property
    def name(self) -> str:
        return str(self.summary.get("scenario", ""))

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"Results({s.get('scenario')!r}: status {s.get('status')}, total cost {s.get('total_cost'):,.0f} CNY/yr, "
            f"savings {_fmt(s.get('savings'))} CNY/yr, {len(self.prices)} market prices)"
        )

    # -- files --------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, report: bool = False, lang: str = "en") -> Path:
        """Write every table as CSV and the summary as JSON into ``directory``, whole or not at all.

        The files are written into a temporary folder beside ``directory`` and moved into place
        only when complete; an existing ``directory`` is replaced only then. With ``report`` the
        folder also gets ``report.html`` in ``lang`` ('en' or 'zh'; see :mod:`emtrade.report`).

        >>> import tempfile, pathlib
        >>> from emtrade import Results, bundled_scenario, simulate
        >>> res = simulate(bundled_scenario("textbook/fox_river"))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = res.save(pathlib.Path(tmp) / "fox_river")
        ...     files = sorted(p.name for p in folder.iterdir())
        ...     again = Results.load(folder)
        >>> files[:4]
        ['abatement.csv', 'bank.csv', 'caps.csv', 'enterprises.csv']
        >>> again.summary == res.summary
        True
        """
        target = Path(directory)
        with atomic_directory(target) as tmp:
            self.write_files(tmp)
            if report:
                from emtrade.report import write_run_report

                write_run_report(self, tmp, lang=lang)
        return target

    def write_files(self, folder: Path) -> None:
        """Write the tables and the summary into an existing ``folder`` (not atomic by itself)."""
        for name in TABLES:
            getattr(self, name).to_csv(
                folder / f"{name}.csv", index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g", lineterminator="\n"
            )
        (folder / "summary.json").write_text(dumps_json(self.summary) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Results:
        """Read results written by :meth:`save`: the same tables and summary, value for value.

        Numbers come back as written (12 significant digits), as floats (integers for option
        numbers), so that the loaded tables equal the saved ones, dtypes included.

        >>> import tempfile
        >>> import pandas as pd
        >>> from emtrade import Results, bundled_scenario, simulate
        >>> res = simulate(bundled_scenario("textbook/rubin_banking"))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     again = Results.load(res.save(tmp))
        >>> again.prices[["period", "price"]].to_dict("records")
        [{'period': '2016', 'price': 50.0}, {'period': '2017', 'price': 55.0}]
        >>> for table in ("enterprises", "firms", "prices", "caps", "bank"):
        ...     pd.testing.assert_frame_equal(getattr(again, table), getattr(res, table))
        """
        folder = Path(directory)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        tables = {}
        for name in TABLES:
            path = folder / f"{name}.csv"
            if not path.exists() and name in OPTIONAL_TABLES:
                tables[name] = pd.DataFrame()
                continue
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing; is this an emtrade results folder?")
            try:
                head = pd.read_csv(path, nrows=0).columns
            except pd.errors.EmptyDataError:
                tables[name] = pd.DataFrame()
                continue
            dtypes = {c: str for c in head if c in TEXT_COLUMNS}
            df = pd.read_csv(
                path,
                dtype=dtypes,
                keep_default_na=False,
                na_values={c: ["", "nan", "NaN"] for c in head if c not in TEXT_COLUMNS},
            )
            for c in head:
                if c in BOOL_COLUMNS:
                    df[c] = df[c].astype(str).str.lower().eq("true")
                elif c in INT_COLUMNS:
                    df[c] = df[c].astype(np.int64)
                elif c not in TEXT_COLUMNS and pd.api.types.is_numeric_dtype(df[c]):
                    df[c] = df[c].astype(float)  # 3.0 is written "3": read it back as a float
            tables[name] = df
        return cls(summary=summary, **tables)


def _fmt(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.0f}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # JSON has no inf/NaN: null means unbounded or undefined (see the docs)
        return float(round_sig(np.array([value]))[0])
    return value


def dumps_json(data: dict[str, Any]) -> str:
    return json.dumps(_json_safe(data), indent=2, ensure_ascii=False, sort_keys=False)


def _remove_stale(parent: Path, name: str) -> None:
    """Remove temporary folders left by runs that were killed (SIGKILL cannot be caught)."""
    for path in parent.glob(f".{name}.tmp-*"):
        try:
            pid = int(path.name.split(".tmp-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
    for path in parent.glob(f".{name}.old-*"):
        if (parent / name).exists():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class atomic_directory:
    """Context manager: yields a temporary folder that replaces ``target`` only on success.

    On any error (or KeyboardInterrupt) the temporary folder is removed and ``target`` is left as
    it was. The swap is two renames within one parent folder, so a crash between them leaves the
    old results under ``<target>.old-*`` rather than a half-written folder.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        parent = self.target.parent if str(self.target.parent) else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent, self.target.name)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-", dir=parent))
        # mkdtemp makes the folder private (0700); results are for sharing: the user's umask decides
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = None
        if self.target.exists():
            if not self.target.is_dir():
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise FileExistsError(f"{self.target} exists and is not a folder")
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-", dir=self.target.parent))
            old.rmdir()
            os.replace(self.target, old)
        os.replace(self.tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False
