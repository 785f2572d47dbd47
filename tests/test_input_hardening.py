"""Hostile and careless input (issue 11, the input part): every file confined, bombs refused, exit 2.

Each test reproduces one defect found on 32832c9: river tables read from anywhere and quoted in
messages, a YAML alias bomb eating gigabytes, duplicate keys silently overridden, nesting and long
numbers ending in "internal error", command-line options that skipped the schema, ``caps.-1``
editing the last row, xlsx workbooks misread, and ``1_00`` read as 100.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

import emtrade
from emtrade.cli import main
from emtrade.errors import EmtradeError, ScenarioError
from emtrade.scenario.yaml_reader import MAX_YAML_NODES, read_yaml
from emtrade.sweeps import parse_set

#: a firm that a valid scenario needs, and its abatement (cost a² over a = abatement, kg/yr)
TWO_FIRMS = {
    "name": "two firms",
    "pollutants": ["Cd"],
    "enterprises": [
        {"id": "F1", "sector": "zinc", "baseline": {"Cd": 200}},
        {"id": "F2", "sector": "zinc", "baseline": {"Cd": 200}},
    ],
    "abatement": [
        {"enterprise": "F1", "pollutant": "Cd", "kind": "linear", "slope": 2},
        {"enterprise": "F2", "pollutant": "Cd", "kind": "linear", "slope": 2},
    ],
    "trading": {"scope": "none"},
}
#: a first line no message may quote in full (it stands for a secret in a file that is no table)
SECRET = "token=" + "".join(f"{i:03d}" for i in range(60))


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result.exit_code, result.output


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def scenario_file(folder: Path, scenario: dict, name: str = "scenario.yaml") -> Path:
    return write(folder, name, yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False))


def quotes_more_than(output: str, text: str, chars: int = 40) -> bool:
    """Whether ``output`` holds any run of more than ``chars`` characters of ``text``."""
    return any(text[i : i + chars + 1] in output for i in range(len(text) - chars))


# --------------------------------------------------------------------------------------------------
# 2. river tables: the same confinement as every table, and no file quoted at length


SECTIONS_CSV = "id,flow,travel_time,decay,water_class\nup,1,1,0.6931471805599453,III\ndown,,,,III\n"
DISCHARGES = [{"enterprise": "F1", "section": "up"}, {"enterprise": "F2", "section": "down"}]


@pytest.mark.parametrize("how", ["inline", "river_file"])
def test_river_tables_outside_the_folder_are_refused(tmp_path, how):
    secret = write(tmp_path / "elsewhere", "secret.csv", SECRET + "\nsecond line\n")
    folder = tmp_path / "scenario"
    river = {"sections": str(secret), "discharges": DISCHARGES}
    if how == "inline":
        path = scenario_file(folder, {**TWO_FIRMS, "river": river})
    else:
        scenario_file(folder, river, "river.yaml")
        path = scenario_file(folder, {**TWO_FIRMS, "river": "river.yaml"})
    code, out = cli("validate", path)
    assert code == 2
    assert "river: sections: the path" in out and "leaves the scenario's folder (use --allow-outside)" in out
    assert SECRET[:20] not in out


def test_river_table_by_relative_path_out_of_the_folder(tmp_path):
    write(tmp_path, "sections.csv", SECTIONS_CSV)
    path = scenario_file(tmp_path / "scenario", {**TWO_FIRMS, "river": {"sections": "../sections.csv"}})
    code, out = cli("validate", path)
    assert code == 2 and "'../sections.csv' leaves the scenario's folder" in out


def test_allow_outside_reads_river_files_outside_and_the_answer_is_the_hand_derived_one(tmp_path):
    """A river file and its table outside the folder, read with --allow-outside, give the known optimum.

    Q = 1 m³/s, Cd class III 0.005 mg/L, no background: capacity 0.005 · 31,557.6 = 157.788 kg/yr at
    both sections; k t = ln 2 from up to down, so F1 (at up) counts half at down. Costs a², a = 200 − e:
    min a1² + a2² s.t. 0.5 e1 + e2 ≤ 157.788 gives a2 = 2 a1 and 0.5 (200 − a1) + 200 − 2 a1 = 157.788,
    so a1 = 56.8848, e1 = 143.1152, e2 = 86.2304 (up: 143.1152 ≤ 157.788 does not bind).
    """
    shared = tmp_path / "shared"
    write(shared, "sections.csv", SECTIONS_CSV)
    scenario_file(shared, {"sections": "sections.csv", "discharges": DISCHARGES}, "river.yaml")
    path = scenario_file(tmp_path / "scenario", {**TWO_FIRMS, "river": "../shared/river.yaml"})
    code, out = cli("validate", path)
    assert code == 2 and "leaves the scenario's folder" in out  # main ignored --allow-outside here
    sc = emtrade.load_scenario(path, allow_outside=True)
    em = emtrade.simulate(sc).enterprises.set_index("enterprise")["emissions"]
    assert em["F1"] == pytest.approx(143.1152, rel=1e-6)
    assert em["F2"] == pytest.approx(86.2304, rel=1e-6)
    assert 0.5 * em["F1"] + em["F2"] == pytest.approx(0.005 * 31_557.6, rel=1e-9)  # the binding receptor
    # a sweep's overrides re-read the river: --allow-outside stays with the scenario
    assert sc.with_overrides({"trading.scope": "none"}).river is not None


@pytest.mark.parametrize("key", ["river", "enterprises"])
@pytest.mark.parametrize(
    "content",
    [f"{SECRET}\n{SECRET}=1\nthird {SECRET}\n", f"id,flow,note\n{SECRET},{SECRET},1\n"],
    ids=["text", "cells"],
)
def test_a_file_that_is_no_table_is_quoted_only_in_short_excerpts(tmp_path, key, content):
    write(tmp_path, "notes.txt", content)
    value = {"sections": "notes.txt"} if key == "river" else "notes.txt"
    path = scenario_file(tmp_path, {**TWO_FIRMS, key: value})
    code, out = cli("validate", path)
    assert code == 2
    assert not quotes_more_than(out, SECRET), out
    assert "…" in out


# --------------------------------------------------------------------------------------------------
# 3. alias bombs, 10 (part). nesting and long numbers


def billion_laughs(levels: int, width: int) -> str:
    """``a: &a [x, x, …]``, ``b: &b [*a, *a, …]``, …: ``width ** levels`` scalars from a few hundred bytes."""
    names = "abcdefghijklmnop"
    lines = [f"a: &a [{', '.join(['x'] * width)}]"]
    lines += [f"{names[i]}: &{names[i]} [{', '.join([f'*{names[i - 1]}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("levels", "width"), [(9, 9), (10, 10)])
def test_alias_bomb_is_refused_within_a_second(tmp_path, levels, width):
    """9 levels of 9 expand to 9⁹ ≈ 387 million scalars (main: 38 s and 3.1 GB); 10 of 10 to 10¹⁰."""
    text = billion_laughs(levels, width)
    assert len(text) < 500
    path = write(tmp_path, "scenario.yaml", text)
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"expand to more than 1,000,000 values"):
        read_yaml(text, str(path))
    assert time.perf_counter() - t0 < 1.0
    code, out = cli("validate", path)
    assert code == 2 and f"error: {path}: line " in out and "1,000,000" in out


def test_alias_expansion_bound_is_one_million_nodes():
    """``a: &a [x × 999]`` and ``b: [*a × k]`` expand to 1 (mapping) + 2 (keys) + 1,000 (list a)
    + 1 + 1,000 k (list b) = 1,000 k + 1,004 nodes: k = 988 → 989,004 (read), k = 999 → 1,000,004 (refused).
    """
    assert MAX_YAML_NODES == 1_000_000

    def doc(k: int) -> str:
        return f"a: &a [{', '.join(['x'] * 999)}]\nb: [{', '.join(['*a'] * k)}]\n"

    value = read_yaml(doc(988), "ok.yaml")
    assert len(value["b"]) == 988 and value["b"][0] is value["a"]
    with pytest.raises(ScenarioError, match="more than 1,000,000"):
        read_yaml(doc(999), "bomb.yaml")


def test_an_alias_inside_the_node_it_names_is_refused(tmp_path):
    path = write(tmp_path, "scenario.yaml", "name: &a [x, *a]\n")
    code, out = cli("validate", path)
    assert code == 2 and "line 1: the alias *a is inside the node it names" in out


def test_deep_nesting_is_an_input_error(tmp_path):
    path = write(tmp_path, "scenario.yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n")
    code, out = cli("validate", path)
    assert code == 2 and "nested more than 100 levels deep" in out
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ScenarioError, match="nested too deeply"):
        emtrade.load_scenario({**TWO_FIRMS, "name": deep})


def test_a_5000_digit_integer_is_refused_naming_its_key(tmp_path):
    text = yaml.safe_dump(TWO_FIRMS, sort_keys=False) + "caps:\n  - {pollutant: Cd, total: " + "9" * 5000 + "}\n"
    path = write(tmp_path, "scenario.yaml", text)
    code, out = cli("validate", path)
    assert code == 2 and "'total': a whole number of 5,000 digits is too long" in out
    assert len(out) < 400


def test_messages_never_repr_a_huge_value(tmp_path):
    path = scenario_file(tmp_path, {**TWO_FIRMS, "name": list(range(200_000))})
    code, out = cli("validate", path)
    assert code == 2 and "name must be text, got [0, 1, 2" in out
    assert max(len(line) for line in out.splitlines()) < 200


# --------------------------------------------------------------------------------------------------
# 4. duplicate keys


def test_duplicate_keys_are_all_reported_with_both_lines(tmp_path):
    text = (
        "name: twice\n"  # 1
        "pollutants: [Cd]\n"  # 2
        "caps:\n"  # 3
        "  - {pollutant: Cd, total: 100}\n"  # 4
        "enterprises:\n"  # 5
        "  - {id: F1, sector: zinc, baseline: {Cd: 200}}\n"  # 6
        "allocation: {method: grandfathering, method: auction}\n"  # 7
        "caps:\n"  # 8
        "  - {pollutant: Cd, total: 300}\n"  # 9
    )
    path = write(tmp_path, "scenario.yaml", text)
    code, out = cli("validate", path)
    assert code == 2
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {path}: line 7: key 'method' is given twice on line 7: a mapping takes each key once",
        f"error: {path}: line 8: key 'caps' is given twice, on lines 3 and 8: a mapping takes each key once",
    ]


def test_merge_keys_may_still_be_overridden():
    value = read_yaml("base: &b {method: grandfathering, x: 1}\nallocation: {<<: *b, method: auction}\n", "m.yaml")
    assert value["allocation"] == {"method": "auction", "x": 1}


# --------------------------------------------------------------------------------------------------
# 11, 12. command-line options validated like the scenario's keys


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--mip-gap", "2"], "--mip-gap 2.0: solver.mip_gap must be ≤ 1, got 2.0"),
        (["--time-limit", "-1"], "--time-limit -1.0: solver.time_limit must be > 0, got -1.0"),
        (["--time-limit", "nan"], "--time-limit nan: solver.time_limit must be a finite number, got nan"),
    ],
)
def test_solver_options_are_validated_by_the_schema(tmp_path, option, message):
    code, out = cli("run", "textbook/fox_river", "-o", tmp_path / "out", "--no-report", *option)
    assert code == 2 and f"error: {message}" in out
    assert not (tmp_path / "out").exists()


def test_valid_solver_options_still_run(tmp_path):
    """Fox River (Callan & Thomas): MAC1 = 0.7 A1, MAC2 = 2.1 A2, A1 + A2 = 40 → A = (30, 10), cost
    0.35·30² + 1.05·10² = 420."""
    out = tmp_path / "out"
    code, text = cli("run", "textbook/fox_river", "-o", out, "--no-report", "--time-limit", "30", "--mip-gap", "0.01")
    assert code == 0, text
    summary = yaml.safe_load((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["total_cost"] == pytest.approx(420, rel=1e-9)


def test_sweep_counts_are_bounded(tmp_path):
    from emtrade.sweeps import MAX_SAMPLES, MAX_WORKERS, make_plan, sweep

    assert (MAX_SAMPLES, MAX_WORKERS) == (100_000, 256)
    sc = emtrade.load_scenario(emtrade.bundled_scenario("textbook/fox_river"))
    with pytest.raises(EmtradeError, match="--samples 100001: at most 100,000 draws per grid point"):
        make_plan(sc, samples=MAX_SAMPLES + 1)
    code, out = cli("sweep", "textbook/fox_river", "-o", tmp_path / "s", "--workers", "1000")
    assert code == 2 and "--workers 1000: must be a whole number from 1 to 256" in out
    with pytest.raises(EmtradeError, match="--dask-local 257"):
        sweep(sc, dask_local=257)


@pytest.mark.parametrize("row", ["-1", "1", "+0", " 0", "0_0"])
def test_set_refuses_rows_that_do_not_exist(row):
    sc = emtrade.load_scenario(emtrade.bundled_scenario("textbook/fox_river"))  # one cap: row 0
    message = f"caps.{row}.total: '{row}' is not a row number of caps (its rows are 0 to 0)"
    with pytest.raises(ScenarioError, match=re.escape(message)):
        sc.with_overrides({f"caps.{row}.total": 150})
    assert sc.with_overrides({"caps.0.total": 150}).spec.caps[0].total == 150


def test_set_on_the_command_line_names_a_negative_row(tmp_path):
    code, out = cli("sweep", "textbook/fox_river", "-o", tmp_path / "s", "--set", "caps.-1.total=150")
    assert code == 2 and "caps.-1.total: '-1' is not a row number of caps (its rows are 0 to 0)" in out


# --------------------------------------------------------------------------------------------------
# 12. xlsx workbooks


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


ENTERPRISE_ROWS = [["id", "sector", "baseline_Cd"], ["F1", "zinc", 200], ["F2", "zinc", 200]]
NOTES = [["These tables come from the 2019 survey of the city's enterprises"], ["see the report"], ["more"]]


def test_xlsx_formulas_without_saved_values_are_named_by_cell(tmp_path):
    """openpyxl writes formulas without cached values, like a script would: nothing to read in C3."""
    rows = [list(r) for r in ENTERPRISE_ROWS]
    rows[2][2] = "=100*2"
    workbook(tmp_path / "firms.xlsx", {"enterprises": rows})
    path = scenario_file(tmp_path, {**TWO_FIRMS, "enterprises": "firms.xlsx"})
    code, out = cli("validate", path)
    assert code == 2
    assert "firms.xlsx: sheet 'enterprises': formulas without a saved value in C3" in out
    assert "save it, so that the values are stored" in out and "missing" not in out


def test_xlsx_sheet_named_like_the_table_is_read(tmp_path):
    """One workbook, a notes sheet first and a sheet per table: each table key reads its own sheet."""
    caps = [["pollutant", "total"], ["Cd", 300]]
    workbook(tmp_path / "data.xlsx", {"Notes": NOTES, "Enterprises": ENTERPRISE_ROWS, "caps": caps})
    path = scenario_file(tmp_path, {**TWO_FIRMS, "enterprises": "data.xlsx", "caps": "data.xlsx"})
    sc = emtrade.load_scenario(path)
    assert [e.id for e in sc.spec.enterprises] == ["F1", "F2"] and sc.spec.caps[0].total == 300


def test_xlsx_first_sheet_of_notes_is_named_in_the_message(tmp_path):
    workbook(tmp_path / "data.xlsx", {"Notes": NOTES, "Data": ENTERPRISE_ROWS})
    path = scenario_file(tmp_path, {**TWO_FIRMS, "enterprises": "data.xlsx"})
    code, out = cli("validate", path)
    assert code == 2
    assert (
        "data.xlsx: missing column id (read sheet 'Notes' of the sheets Notes, Data; "
        "a sheet named 'enterprises' would be read first)"
    ) in out
    workbook(tmp_path / "data.xlsx", {"Notes": NOTES[:1], "Data": ENTERPRISE_ROWS})
    code, out = cli("validate", path)
    assert code == 2 and "the enterprises table is empty (read sheet 'Notes' of the sheets Notes, Data;" in out


# --------------------------------------------------------------------------------------------------
# 12. digit separators


def test_digit_separators_are_refused_in_table_cells(tmp_path):
    write(tmp_path, "firms.csv", "id,sector,baseline_Cd\n2023_01,zinc,1_00\nF2,zinc,200\n")
    scenario = {**TWO_FIRMS, "enterprises": "firms.csv"}
    scenario["abatement"] = [{**TWO_FIRMS["abatement"][0], "enterprise": "2023_01"}, TWO_FIRMS["abatement"][1]]
    path = scenario_file(tmp_path, scenario)
    code, out = cli("validate", path)
    assert code == 2
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {path}: firms.csv line 2 (id 2023_01): baseline_Cd '1_00' has a digit separator '_': "
        "write the number without it ('100')"
    ]  # the id 2023_01 is text and stays as it is


@pytest.mark.parametrize("total", ["1_00", "'1_00'", "1_0.5"])
def test_digit_separators_are_refused_in_yaml(tmp_path, total):
    text = yaml.safe_dump(TWO_FIRMS, sort_keys=False) + f"caps:\n  - {{pollutant: Cd, total: {total}}}\n"
    code, out = cli("validate", write(tmp_path, "scenario.yaml", text))
    assert code == 2 and f"caps[0]: total '{total.strip(chr(39))}' has a digit separator '_'" in out


def test_digit_separators_are_refused_in_set(tmp_path):
    code, out = cli("sweep", "textbook/fox_river", "-o", tmp_path / "s", "--set", "caps.0.total=1_50")
    assert code == 2 and "--set caps.0.total=1_50: caps[0] (id river): total '1_50' has a digit separator" in out
    assert parse_set(["caps.0.total=1e2,2023_01"]) == {"caps.0.total": [100.0, "2023_01"]}  # 2023_01 may be an id


# --------------------------------------------------------------------------------------------------
# the fuzz generators of hostile YAML: each kind ends in exit 2 with a one-line message, quickly


@pytest.mark.parametrize("kind", ["alias_bomb", "alias_cycle", "duplicate_key", "duplicate_flow_key",
                                  "deep_nesting", "long_integer", "digit_separator"])  # fmt: skip
def test_fuzz_generators_of_hostile_yaml(tmp_path, kind):
    import random

    from fuzzing import SCENARIO, yaml_text_mutation

    expected = {
        "alias_bomb": "expand to more than 1,000,000 values",
        "alias_cycle": "is inside the node it names",
        "duplicate_key": "is given twice",
        "duplicate_flow_key": "is given twice on line",
        "deep_nesting": "nested",
        "long_integer": "",
        "digit_separator": "",
    }[kind]
    for seed in range(4):
        text = yaml_text_mutation(random.Random(seed), yaml.safe_dump(SCENARIO, allow_unicode=True), kind)
        path = write(tmp_path / f"{kind}{seed}", "scenario.yaml", text)
        t0 = time.perf_counter()
        code, out = cli("validate", path)
        assert time.perf_counter() - t0 < 10
        errors = [line for line in out.splitlines() if line.startswith("error:")]
        if kind == "deep_nesting" and "[" * 101 not in text:
            continue  # 50 levels is legal YAML: the scenario's schema refuses the value instead
        assert code == 2 and errors and expected in out, (seed, out)
        assert max(len(line) for line in errors) < 400


def test_digit_separators_are_refused_in_an_order_book(tmp_path):
    book = write(tmp_path, "book.csv", "id,side,quantity,price\nA,bid,1_0,5\nB,ask,10,3\n")
    code, out = cli("clear", book)
    assert code == 2 and "line 2 (id A): quantity '1_0' has a digit separator '_'" in out
