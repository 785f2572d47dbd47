"""Reading a table given as a file: CSV (UTF-8 with or without BOM, GBK/GB18030) or an .xlsx sheet.

A table file has one column per key; nested keys are flattened with an underscore
(``baseline_Pb``). Empty cells mean "not given". Rows keep their line number so that errors can
point at them.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emtrade.errors import Problem

#: refuse tables that would not fit in memory long before they are read
MAX_TABLE_BYTES = 2 * 1024**3
MAX_TABLE_ROWS = 5_000_000


@dataclass
class TableRows:
    """Rows read from a file: ``rows[k]`` came from ``lines[k]`` (1-based line, or sheet row)."""

    rows: list[dict[str, str]]
    lines: list[int]
    columns: list[str]
    encoding: str
    #: for a workbook: which sheet was read, and the workbook's sheets (for messages about the table)
    sheet: str = ""


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (BOM stripped) first, then GB18030 (a superset of GBK and GB2312).

    Returns (text, encoding). Raises ValueError if neither decodes.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ValueError(f"is neither UTF-8 nor GBK/GB18030 text (byte {exc.start})") from None


def unflatten(row: dict[str, str], nested: tuple[str, ...]) -> dict[str, object]:
    """``{'baseline_Pb': '3'}`` → ``{'baseline': {'Pb': '3'}}`` for the nested keys; empty cells dropped."""
    out: dict[str, object] = {}
    for key, value in row.items():
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        if isinstance(value, str):
            value = value.strip()
        for prefix in nested:
            if key.startswith(prefix + "_") and len(key) > len(prefix) + 1:
                sub = out.setdefault(prefix, {})
                if isinstance(sub, dict):
                    sub[key[len(prefix) + 1 :]] = value
                break
        else:
            out[key] = value
    return out


def read_table_file(path: Path, display: str, *, table: str | None = None) -> tuple[TableRows | None, list[Problem]]:
    """Read a CSV or .xlsx table; return the rows or the problems that stopped the reading.

    ``table`` (``enterprises``, ``caps``, ...): in a workbook, the sheet of that name is read if there
    is one (so that one workbook can hold every table), else the first sheet.
    """
    if not path.is_file():
        return None, [Problem(display, "", "file not found")]
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        return None, [Problem(display, "", f"file is {size / 1024**3:.1f} GiB; tables above 2 GiB are refused")]
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, display, table)
    try:
        text, encoding = decode_text(path.read_bytes())
    except ValueError as exc:
        return None, [Problem(display, "", str(exc))]
    return _read_csv_text(text, encoding, display)


def _read_csv_text(text: str, encoding: str, display: str) -> tuple[TableRows | None, list[Problem]]:
    problems: list[Problem] = []
    if "\x00" in text:
        return None, [Problem(display, "", "contains NUL bytes; is it a binary file?")]
    try:
        sample = text[:4096]
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        return None, [Problem(display, "", "is empty: expected a header row")]
    except csv.Error as exc:
        return None, [Problem(display, "line 1", f"cannot be read as CSV: {exc}")]
    header = [h.strip() for h in header]
    if not any(header):
        return None, [Problem(display, "line 1", "the header row is empty")]
    seen: set[str] = set()
    for i, h in enumerate(header):
        if not h:
            problems.append(Problem(display, "line 1", f"column {i + 1} has no name"))
        elif h in seen:
            problems.append(Problem(display, "line 1", f"column '{h}' appears twice"))
        seen.add(h)
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines, common at the end of exported files
            if len(record) > len(header):
                extra = [c for c in record[len(header) :] if c.strip()]
                if extra:
                    problems.append(
                        Problem(display, f"line {line}", f"has {len(record)} cells but the header has {len(header)}")
                    )
                    continue
            record = record + [""] * (len(header) - len(record))
            rows.append(dict(zip(header, record, strict=False)))
            lines.append(line)
            if len(rows) > MAX_TABLE_ROWS:
                return None, [Problem(display, "", f"has more than {MAX_TABLE_ROWS:,} rows; refused")]
    except csv.Error as exc:
        problems.append(Problem(display, f"line {reader.line_num}", f"cannot be read as CSV: {exc}"))
    if problems:
        return None, problems
    return TableRows(rows, lines, header, encoding), []


def _read_xlsx(path: Path, display: str, table: str | None = None) -> tuple[TableRows | None, list[Problem]]:
    """The sheet named like ``table`` (else the first) of a workbook, as the values a spreadsheet saved.

    openpyxl computes no formulas: a formula cell has a value only if the program that saved the
    workbook stored one (Excel, LibreOffice and WPS do; files written by scripts often do not). The
    workbook is read twice, values and formulas, so that a formula without a stored value is named
    by its cell instead of being taken for an empty cell.
    """
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        return None, [Problem(display, "", "reading .xlsx needs openpyxl (pip install openpyxl)")]
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        return None, [Problem(display, "", f"cannot be read as an .xlsx workbook: {type(exc).__name__}")]
    try:
        names = list(book.sheetnames)
        name = _pick_sheet(names, table)
        listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        about = f"sheet {name!r}" + (f" of the sheets {listed}" if len(names) > 1 else "")
        cells = itertools.zip_longest(
            book[name].iter_rows(values_only=True), formulas[name].iter_rows(values_only=True), fillvalue=()
        )
        return _sheet_rows(cells, display, about)
    finally:
        book.close()
        formulas.close()


def _pick_sheet(names: list[str], table: str | None) -> str:
    def norm(text: str) -> str:
        return text.strip().lower().replace(" ", "_")

    return next((n for n in names if table is not None and norm(n) == norm(table)), names[0])


#: at most this many formula cells without a saved value are named one by one
_MAX_NAMED_CELLS = 20


def _sheet_rows(cells: Any, display: str, about: str) -> tuple[TableRows | None, list[Problem]]:
    """Rows of (values, formulas) pairs → the table, or the problems (formulas without values named)."""
    from openpyxl.utils import get_column_letter

    problems: list[Problem] = []
    unsaved: list[str] = []
    header: list[str] = []
    rows, lines = [], []
    for n, (values, forms) in enumerate(cells, start=1):
        for j, (v, f) in enumerate(itertools.zip_longest(values, forms)):
            if v is None and _is_formula(f):
                unsaved.append(f"{get_column_letter(j + 1)}{n}")
        if n == 1:
            header = ["" if c is None else str(c).strip() for c in values]
            while header and header[-1] == "":
                header.pop()
            if not header:
                return None, [Problem(display, "row 1", f"the header row of {about} is empty")]
            nameless = [i + 1 for i, h in enumerate(header) if not h]
            problems += [Problem(display, "row 1", f"column {i} has no name") for i in nameless]
            if len(set(header)) != len(header):
                problems.append(Problem(display, "row 1", "a column name appears twice"))
            continue
        row = ["" if c is None else _cell_text(c) for c in values[: len(header)]]
        if not any(v.strip() for v in row):
            continue
        row += [""] * (len(header) - len(row))
        rows.append(dict(zip(header, row, strict=True)))
        lines.append(n)
        if len(rows) > MAX_TABLE_ROWS:
            return None, [Problem(display, "", f"has more than {MAX_TABLE_ROWS:,} rows; refused")]
    if not header:
        return None, [Problem(display, "", f"{about} is empty: expected a header row")]
    if unsaved:
        shown = ", ".join(unsaved[:_MAX_NAMED_CELLS]) + (
            f" and {len(unsaved) - _MAX_NAMED_CELLS} more" if len(unsaved) > _MAX_NAMED_CELLS else ""
        )
        problems.append(
            Problem(
                display,
                about,
                f"formulas without a saved value in {shown}: open the workbook in a spreadsheet program and save "
                "it, so that the values are stored (emtrade reads stored values and computes no formulas)",
            )
        )
    if problems:
        return None, problems
    return TableRows(rows, lines, header, "xlsx", sheet=about), []


def _is_formula(cell: Any) -> bool:
    # openpyxl gives a formula as its text (=A1*2), an array or data-table formula as an object
    return (isinstance(cell, str) and cell.startswith("=")) or type(cell).__name__.endswith("Formula")


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


#: a number written with digit separators: ``1_000``, ``-1_0.5``, ``1_0e3`` (Python's float() reads them)
_SEPARATED = re.compile(r"\s*[+-]?(?=[\d_.]*\d)[\d_]*\.?[\d_]*(?:[eE][+-]?[\d_]+)?\s*")


def has_digit_separator(text: str) -> bool:
    """Whether ``text`` is a number written with underscores as digit separators (``1_00``).

    Python's ``float()`` and ``int()`` (and so pydantic) read ``1_00`` as 100; in a table a
    stray underscore is far more likely a typo than a separator, so emtrade refuses such numbers.

    >>> has_digit_separator("1_00"), has_digit_separator("1.5"), has_digit_separator("ZB_01")
    (True, False, False)
    """
    return "_" in text and _SEPARATED.fullmatch(text) is not None


def parse_number(text: str) -> float:
    """``float(text)``, refusing digit separators (``1_00``): ValueError names the text."""
    if has_digit_separator(text):
        raise ValueError(f"{text.strip()!r} has a digit separator '_': write the number without it")
    return float(text)
