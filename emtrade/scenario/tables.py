"""Reading a table given as a file: CSV (UTF-8 with or without BOM, GBK/GB18030) or an .xlsx sheet.

A table file has one column per key; nested keys are flattened with an underscore
(``baseline_Pb``). Empty cells mean "not given". Rows keep their line number so that errors can
point at them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

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


def read_table_file(path: Path, display: str) -> tuple[TableRows | None, list[Problem]]:
    """Read a CSV or .xlsx table; return the rows or the problems that stopped the reading."""
    if not path.is_file():
        return None, [Problem(display, "", "file not found")]
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        return None, [Problem(display, "", f"file is {size / 1024**3:.1f} GiB; tables above 2 GiB are refused")]
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, display)
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


def _read_xlsx(path: Path, display: str) -> tuple[TableRows | None, list[Problem]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        return None, [Problem(display, "", "reading .xlsx needs openpyxl (pip install openpyxl)")]
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        return None, [Problem(display, "", f"cannot be read as an .xlsx workbook: {type(exc).__name__}")]
    try:
        sheet = book.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        try:
            header_cells = next(it)
        except StopIteration:
            return None, [Problem(display, "", "the first sheet is empty: expected a header row")]
        header = ["" if c is None else str(c).strip() for c in header_cells]
        while header and header[-1] == "":
            header.pop()
        if not header:
            return None, [Problem(display, "row 1", "the header row is empty")]
        problems = [Problem(display, "row 1", f"column {i + 1} has no name") for i, h in enumerate(header) if not h]
        if len(set(header)) != len(header):
            problems.append(Problem(display, "row 1", "a column name appears twice"))
        rows, lines = [], []
        for n, cells in enumerate(it, start=2):
            values = ["" if c is None else _cell_text(c) for c in cells[: len(header)]]
            if not any(v.strip() for v in values):
                continue
            values += [""] * (len(header) - len(values))
            rows.append(dict(zip(header, values, strict=True)))
            lines.append(n)
        if problems:
            return None, problems
        return TableRows(rows, lines, header, "xlsx"), []
    finally:
        book.close()


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
