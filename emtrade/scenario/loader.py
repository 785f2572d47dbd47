"""From a YAML file (or a dict) to a validated :class:`Scenario`, reporting every problem at once.

The steps: read the YAML safely; replace every table given as a path by the rows of its file;
validate the top level and each table row against the schema; check the references between tables
(:mod:`emtrade.scenario.checks`). Problems are collected along the way and raised together as one
:class:`~emtrade.errors.ScenarioError`, each naming the file, the row or key, and the reason.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from emtrade.errors import EXCERPT_CHARS, Problem, ScenarioError, excerpt
from emtrade.scenario import schema
from emtrade.scenario.tables import has_digit_separator, read_table_file, unflatten
from emtrade.scenario.yaml_reader import read_yaml

MAX_YAML_BYTES = 64 * 1024**2


@dataclass
class TableSource:
    """Where a table came from: a file (with the line of every row) or the YAML itself."""

    key: str
    file: str | None = None  # path as written in the YAML, for messages
    lines: list[int] | None = None
    encoding: str | None = None
    #: for a workbook, the sheet read and the sheets there are (said when the table looks wrong)
    sheet: str = ""

    def whole(self, message: str) -> str:
        """A message about the whole table, naming the sheet read if it came from a workbook."""
        if not self.sheet:
            return message
        return f"{message} (read {self.sheet}; a sheet named '{self.key}' would be read first)"

    def where(self, index: int, row: Any) -> str:
        name_key = schema.ROW_NAME_KEY.get(self.key)
        name = row.get(name_key) if isinstance(row, dict) and name_key else None
        label = f" ({name_key} {_clip(str(name))})" if name not in (None, "") else ""
        if self.file is not None and self.lines is not None:
            return f"{self.file} line {self.lines[index]}{label}"
        return f"{self.key}[{index}]{label}"

    def field_name(self, loc: tuple[Any, ...]) -> str:
        parts = [str(p) for p in loc]
        return "_".join(parts) if self.file is not None else ".".join(parts)


@dataclass
class Scenario:
    """A validated scenario: the schema object, the raw mapping it came from, and its provenance.

    ``spec`` is the validated :class:`~emtrade.scenario.schema.ScenarioSpec`; ``raw`` the mapping with
    every table read in (so that overrides by dotted key can be applied and re-validated);
    ``warnings`` lists suspicious but legal input.
    """

    spec: schema.ScenarioSpec
    raw: dict[str, Any]
    path: Path | None = None
    sources: dict[str, TableSource] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: for each table, the raw row number of each validated row (for error messages)
    row_index: dict[str, list[int]] = field(default_factory=dict)
    #: the river description (emtrade.river.River) when the scenario has a ``river:`` key
    river: Any = None
    #: whether files outside the scenario's folder may be read (``--allow-outside``); overrides keep it
    allow_outside: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def display(self) -> str:
        return str(self.path) if self.path else "<dict>"

    @property
    def periods(self) -> list[str]:
        return list(self.spec.periods) if self.spec.periods else ["1"]

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new scenario with dotted keys replaced (``{'trading.scope': 'none', 'caps.0.total': 90}``).

        The keys are those of the scenario file (a row of a table by its number); the result is
        validated like a file, so a typo is an error.

        >>> from emtrade import load_scenario, bundled_scenario
        >>> sc = load_scenario(bundled_scenario("textbook/fox_river"))
        >>> tighter = sc.with_overrides({"caps.0.total": 150, "allocation.method": "grandfathering"})
        >>> tighter.spec.caps[0].total, tighter.spec.allocation.method, sc.spec.caps[0].total
        (150.0, 'grandfathering', 160.0)
        """
        try:
            raw = copy.deepcopy(self.raw)
            for dotted, value in overrides.items():
                _set_dotted(raw, dotted, value, self.display)
            return _validate(raw, self.display, self.path, self.sources, self.input_hashes, self.allow_outside)
        except RecursionError:  # a value from Python nested beyond the interpreter's limit
            raise ScenarioError([Problem(self.display, "", "an override is nested too deeply")]) from None

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"Scenario({s.name!r}: {len(s.enterprises)} enterprises, {len(s.abatement)} abatement options, "
            f"{len(s.caps)} caps, pollutants {', '.join(s.pollutants)}, periods {', '.join(self.periods)})"
        )


def load_scenario(source: str | Path | dict[str, Any], *, allow_outside: bool = False) -> Scenario:
    """Load and validate a scenario from a YAML file or a mapping.

    Tables given as paths are read relative to the YAML file; with ``allow_outside`` False a path
    may not leave the scenario's folder. Raises :class:`~emtrade.errors.ScenarioError` listing
    every problem found.

    >>> from emtrade import load_scenario, bundled_scenario
    >>> sc = load_scenario(bundled_scenario("textbook/fox_river"))
    >>> sc.spec.pollutants
    ['P']
    """
    try:
        return _load(source, allow_outside)
    except RecursionError:  # a mapping from Python nested beyond the interpreter's limit (YAML is bounded)
        where = "<dict>" if isinstance(source, dict) else str(source)
        raise ScenarioError([Problem(where, "", "the scenario is nested too deeply")]) from None


def _load(source: str | Path | dict[str, Any], allow_outside: bool) -> Scenario:
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
        display, base, path = "<dict>", Path.cwd(), None
        hashes: dict[str, str] = {}
    else:
        path = Path(source)
        display = str(source)
        if path.is_dir():
            path = path / "scenario.yaml"
            display = str(path)
        raw, hashes = _read_yaml(path, display)
        base = path.parent
    if not isinstance(raw, dict):
        raise ScenarioError([Problem(display, "", "the scenario must be a YAML mapping of keys to values")])
    sources, problems = _read_tables(raw, base, display, hashes, allow_outside)
    if problems:
        raise ScenarioError(problems)
    return _validate(raw, display, path, sources, hashes, allow_outside)


def _read_yaml(path: Path, display: str) -> tuple[Any, dict[str, str]]:
    if not path.is_file():
        raise ScenarioError([Problem(display, "", "file not found")])
    data = path.read_bytes()
    if len(data) > MAX_YAML_BYTES:
        raise ScenarioError([Problem(display, "", "the YAML file is larger than 64 MiB; put tables in CSV files")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError([Problem(display, "", "is not UTF-8 text")]) from None
    raw = read_yaml(text, display)  # safe: no object tags, nothing evaluated; bounded aliases and depth
    return raw, {path.name: hashlib.sha256(data).hexdigest()}


def _read_tables(
    raw: dict[str, Any], base: Path, display: str, hashes: dict[str, str], allow_outside: bool
) -> tuple[dict[str, TableSource], list[Problem]]:
    sources: dict[str, TableSource] = {}
    problems: list[Problem] = []
    root = base.resolve()
    for key in schema.TABLES:
        value = raw.get(key)
        if not isinstance(value, str):
            sources[key] = TableSource(key)
            continue
        rel = value.strip()
        file, refused = confine(base, rel, root, allow_outside)
        if refused:
            problems.append(Problem(display, key, refused))
            continue
        table, errs = read_table_file(file, rel, table=key)
        if errs:
            problems.extend(Problem(display, key, str(e)) for e in errs)
            continue
        assert table is not None
        raw[key] = [unflatten(r, schema.NESTED_KEYS[key]) for r in table.rows]
        sources[key] = TableSource(key, rel, table.lines, table.encoding, getattr(table, "sheet", ""))
        hashes[rel] = hashlib.sha256(file.read_bytes()).hexdigest()
    return sources, problems


def confine(base: Path, rel: str, root: Path, allow_outside: bool) -> tuple[Path, str | None]:
    """The file ``rel`` names (relative to ``base``), and why it is refused if it leaves ``root``.

    Every file a scenario names (tables, a river description and its tables) goes through here:
    without ``allow_outside`` (``--allow-outside``) it must lie inside the scenario's folder
    ``root`` once ``..`` and symbolic links are resolved.
    """
    file = (base / rel).resolve()
    if allow_outside or file.is_relative_to(root.resolve()):
        return file, None
    return file, f"the path {excerpt(rel)} leaves the scenario's folder (use --allow-outside)"


def _validate(
    raw: dict[str, Any],
    display: str,
    path: Path | None,
    sources: dict[str, TableSource],
    hashes: dict[str, str],
    allow_outside: bool = False,
) -> Scenario:
    from emtrade.scenario.checks import check_references

    problems: list[Problem] = []
    top = {k: v for k, v in raw.items() if k not in schema.TABLES}
    tables: dict[str, list[Any]] = {}
    kept: dict[str, list[int]] = {}
    # top level without tables: validate against the spec with empty placeholder tables
    placeholder = {k: [] for k in schema.TABLES}
    placeholder["enterprises"] = [{"id": "_", "sector": "zinc", "baseline": {}}]
    bad_top: set[str] = set()
    try:
        validated_top = schema.ScenarioSpec.model_validate({**top, **placeholder})
    except ValidationError as exc:
        problems.extend(_problems_from(exc, display, ""))
        bad_top = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    else:
        validate = functools.partial(_validate_top, placeholder=placeholder)
        for loc in separated_numbers(validate, top, validated_top):
            problems.append(Problem(display, "", _separator_message(".".join(map(str, loc)), top, loc)))
    for key, model in schema.TABLES.items():
        src = sources.get(key) or TableSource(key)
        value = raw.get(key)
        tables[key], kept[key] = [], []
        if value is None:
            if key == "enterprises":
                problems.append(Problem(display, "", "missing 'enterprises' (a list or a CSV path)"))
            continue
        if not isinstance(value, list):
            problems.append(Problem(display, key, "must be a list of rows or the path of a CSV file"))
            continue
        if key == "enterprises" and not value:
            problems.append(Problem(display, src.file or key, src.whole("the enterprises table is empty")))
        adapter = TypeAdapter(model)
        for i, row in enumerate(value):
            if not isinstance(row, dict):
                problems.append(Problem(display, src.where(i, None), "each row must be a mapping of keys to values"))
                continue
            # columns named info_* carry notes for people (sources, wastewater volumes): kept, not modelled
            row = {k: v for k, v in row.items() if not str(k).startswith("info_")}
            try:
                tables[key].append(adapter.validate_python(row))
                kept[key].append(i)
            except ValidationError as exc:
                problems.extend(_problems_from(exc, display, src.where(i, row), src))
                continue
            for loc in separated_numbers(adapter.validate_python, row, tables[key][-1]):
                problems.append(Problem(display, src.where(i, row), _separator_message(src.field_name(loc), row, loc)))
        problems.extend(_collapse_missing_columns(problems, src, display, len(value)))
    if problems:
        # check the references among the rows that did validate too, so that one run reports everything
        problems.extend(_partial_reference_problems(raw, top, tables, kept, bad_top, display, path, sources))
        raise ScenarioError(_dedupe(problems))
    river = None
    if raw.get("river") is not None:
        river, extra, problems = _river_tables(raw, top, path, display, allow_outside)
        if problems:
            raise ScenarioError(problems)
        for key, rows in extra.items():
            tables[key] = tables[key] + rows
    spec = schema.ScenarioSpec.model_validate({**top, **tables})
    scenario = Scenario(spec=spec, raw=raw, path=path, sources=sources, input_hashes=dict(hashes), row_index=kept)
    scenario.river = river
    scenario.allow_outside = allow_outside
    problems, warnings = check_references(scenario)
    if problems:
        raise ScenarioError(problems)
    scenario.warnings = warnings
    return scenario


def _river_tables(raw, top, path: Path | None, display: str, allow_outside: bool):
    """Receptors and transfer coefficients derived from the scenario's ``river:`` description.

    The river is a mapping (its tables inline, or paths relative to the scenario's folder) or the
    path of a YAML file (its tables relative to that file); every file stays in the scenario's
    folder unless ``allow_outside``.
    """
    from emtrade.registry import METALS
    from emtrade.river import load_river

    value = raw["river"]
    root = path.parent if path else Path.cwd()
    try:
        if isinstance(value, str):
            file, refused = confine(root, value.strip(), root, allow_outside)
            if refused:
                return None, {}, [Problem(display, "river", refused)]
            river = load_river(file, root=root, allow_outside=allow_outside)
        else:
            river = load_river(value, root=root, allow_outside=allow_outside)
        metals = [p for p in top.get("pollutants") or [] if p in METALS]
        derived = river.scenario_tables(metals)
    except ScenarioError as exc:
        return None, {}, [Problem(display, f"river: {p.where}".rstrip(": "), p.message) for p in exc.problems]
    out, problems = {}, []
    for key in ("receptors", "transfer"):
        adapter = TypeAdapter(schema.TABLES[key])
        rows = []
        for i, row in enumerate(derived[key]):
            try:
                rows.append(adapter.validate_python(row))
            except ValidationError as exc:
                problems.extend(_problems_from(exc, display, f"river ({key} row {i + 1})"))
        out[key] = rows
    return river, out, problems


def separated_numbers(validate: Callable[[Any], Any], raw: Any, validated: Any) -> list[tuple[Any, ...]]:
    """Where ``raw`` holds a number written with digit separators (``'1_00'``) that became a number.

    pydantic (through Python's float()) reads ``'1_00'`` as 100. Whether the field is a number or
    text (an id ``2023_01`` is fine) is found by a probe: ``validate`` the mapping again with the
    underscores taken out of that one value; a number field gives the same result, a text field a
    different one. Only values that look like such numbers are probed, so clean input costs one walk.
    """
    found = []
    for loc, text in _suspects(raw, ()):
        probe = copy.deepcopy(raw)
        _put(probe, loc, text.replace("_", ""))
        try:
            same = validate(probe) == validated
        except (ValidationError, ValueError):
            same = False
        if same:
            found.append(loc)
    return found


def _suspects(value: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """(location, text) of every text below ``value`` that looks like a number with separators.

    Called on every row of every table: a plain loop with the cheap ``'_' in text`` test first.
    """
    if isinstance(value, str):
        return [(loc, value)] if "_" in value and has_digit_separator(value) else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[tuple[tuple[Any, ...], str]] = []
    for k, v in items:
        if type(v) is str:
            if "_" in v and has_digit_separator(v):
                found.append(((*loc, k), v))
        elif isinstance(v, dict | list):
            found += _suspects(v, (*loc, k))
    return found


def _put(node: Any, loc: tuple[Any, ...], value: Any) -> None:
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value


def _get(node: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        node = node[part]
    return node


def _separator_message(name: str, raw: Any, loc: tuple[Any, ...]) -> str:
    text = str(_get(raw, loc)).strip()
    plain = excerpt(text.replace("_", ""))
    return f"{name} {excerpt(text)} has a digit separator '_': write the number without it ({plain})"


def _validate_top(top: dict[str, Any], placeholder: dict[str, Any]) -> Any:
    return schema.ScenarioSpec.model_validate({**top, **placeholder})


def _partial_reference_problems(raw, top, tables, kept, bad_top, display, path, sources) -> list[Problem]:
    """Reference problems among the valid rows of a scenario that also has schema errors."""
    from emtrade.scenario.checks import check_references

    if "pollutants" in bad_top or not tables["enterprises"]:
        return []
    top_ok = {k: v for k, v in top.items() if k not in bad_top}
    top_ok.setdefault("name", "?")
    try:
        spec = schema.ScenarioSpec.model_validate({**top_ok, **tables})
    except ValidationError:
        return []
    partial = Scenario(spec=spec, raw=raw, path=path, sources=sources, row_index=kept)
    known = {str(r.get("id")) for r in raw.get("enterprises") or [] if isinstance(r, dict) and r.get("id") is not None}
    problems, _ = check_references(partial, known_enterprises=known)
    return problems


def _collapse_missing_columns(problems: list[Problem], src: TableSource, display: str, n_rows: int) -> list[Problem]:
    """A column missing from a CSV (or one it should not have) makes every row fail: say it once, for the file."""
    if src.file is None or n_rows < 2:
        return []
    prefix = f"{src.file} line "
    counts: dict[str, int] = {}
    for p in problems:
        if p.where.startswith(prefix) and p.message.startswith(("missing ", "unknown key ")):
            counts[p.message] = counts.get(p.message, 0) + 1
    collapsed = []
    for message, n in counts.items():
        if n == n_rows:
            if message.startswith("missing "):
                column = f"missing column {message.removeprefix('missing ').split(' ')[0]}"
            else:
                column = f"unknown column {message.removeprefix('unknown key ')}"
            collapsed.append(Problem(display, src.file, src.whole(column)))
            problems[:] = [p for p in problems if not (p.where.startswith(prefix) and p.message == message)]
    return collapsed


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


_KIND_TAGS = ", ".join(schema.ABATEMENT_KINDS)


def _problems_from(exc: ValidationError, display: str, where: str, src: TableSource | None = None) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # discriminated unions put the tag in the location (('step', 'cost')): drop it
        if loc and loc[0] in schema.ABATEMENT_KINDS:
            loc = loc[1:]
        name = src.field_name(loc) if src is not None else ".".join(str(p) for p in loc)
        out.append(Problem(display, where, _describe(err, name)))
    return out


def _describe(err: dict[str, Any], name: str) -> str:
    """One readable sentence for one pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    shown = _short(value)
    name = _clip(name)  # a column name may be a line of a file that is no table at all
    if kind == "missing":
        return f"missing {name}" if name else "missing value"
    if kind == "extra_forbidden":
        return f"unknown key '{name}'"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"{name} {shown} is not one of {expected}"
    if kind == "union_tag_invalid":
        return f"kind {_short(ctx.get('tag'))} is not one of {_KIND_TAGS}"
    if kind == "union_tag_not_found":
        return f"missing kind (one of {_KIND_TAGS})"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return f"{name} {shown} is not a number"
    if kind == "finite_number":
        return f"{name} must be a finite number, got {shown}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        bound = f"{bound:g}" if isinstance(bound, int | float) else bound
        return f"{name} must be {op} {bound}, got {shown}"
    if kind in ("dict_type", "list_type", "string_type", "bool_parsing", "bool_type", "model_type"):
        wanted = {
            "dict_type": "a mapping",
            "list_type": "a list",
            "string_type": "text",
            "bool_parsing": "true or false",
            "bool_type": "true or false",
            "model_type": "a mapping",
        }[kind]
        return f"{name} must be {wanted}, got {shown}"
    if kind == "too_short":
        return f"{name} must not be empty"
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return f"{name}: {msg}" if name else msg
    return f"{name}: {err.get('msg')} (got {shown})" if name else f"{err.get('msg')} (got {shown})"


def _clip(text: str) -> str:
    """A name from the input (a column, an id) cut to the length of an excerpt."""
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _short(value: Any) -> str:
    """What a message quotes of a value: a short excerpt of its repr, never the whole of a huge value."""
    return excerpt(value)


def check_solver_overrides(options: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate overrides of the scenario's ``solver`` keys as the scenario's own keys are validated.

    ``options`` maps keys of ``solver`` (``time_limit``, ``mip_gap``, ...) to values, None meaning
    "not given"; ``names`` the command-line option each came from (``--time-limit``), for messages.
    Returns the given ones, validated; raises ScenarioError naming every bad one at once.

    >>> check_solver_overrides({"mip_gap": 2, "time_limit": None}, {"mip_gap": "--mip-gap"})
    Traceback (most recent call last):
    ...
    emtrade.errors.ScenarioError: --mip-gap 2: solver.mip_gap must be ≤ 1, got 2
    """
    given = {k: v for k, v in options.items() if v is not None}
    try:
        validated = schema.SolverOptions.model_validate(given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            key = str(err["loc"][0]) if err["loc"] else ""
            option = (names or {}).get(key, f"solver.{key}")
            shown = given.get(key, "")
            problems.append(Problem(f"{option} {excerpt(shown)}", "", _describe(err, f"solver.{key}")))
        raise ScenarioError(problems) from None
    return {k: getattr(validated, k) for k in given}


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, display: str) -> None:
    """Set ``a.b.0.c`` in nested dicts and lists; a missing mapping key is created."""
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            # a row number counts from 0 and stays in the table: Python's int() would take '-1' (the
            # last row), ' 1' and '1_0', and a negative index silently edits another row
            if not (part.isascii() and part.isdigit()) or int(part) >= len(node):
                table = ".".join(parts[:i]) or "the table"
                rows = f"its rows are 0 to {len(node) - 1}" if node else "it has no rows"
                raise ScenarioError([Problem(display, dotted, f"'{part}' is not a row number of {table} ({rows})")])
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ScenarioError([Problem(display, dotted, f"'{parts[i - 1]}' is not a mapping or a table")])
