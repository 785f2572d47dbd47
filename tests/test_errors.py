"""Bad input: a one-line message per problem naming the file, row or key, exit code 2, nothing written."""

from __future__ import annotations

import pytest
from conftest import run_cli, write_scenario

import emtrade
from emtrade.errors import InfeasibleError, ScenarioError

ENTERPRISES = "id,sector,zone,baseline_Pb\nA,zinc,yisuhe,100\nB,electroplating,jiuhua,100\n"
ABATEMENT = "enterprise,pollutant,kind,slope\nA,Pb,linear,2\nB,Pb,linear,4\n"
SCENARIO = {
    "name": "two firms",
    "pollutants": ["Pb"],
    "enterprises": "enterprises.csv",
    "abatement": "abatement.csv",
    "caps": [{"pollutant": "Pb", "total": 120}],
}


def run_bad(tmp_path, scenario=None, enterprises=ENTERPRISES, abatement=ABATEMENT):
    path = write_scenario(
        tmp_path / "sc",
        scenario or SCENARIO,
        {"enterprises.csv": enterprises, "abatement.csv": abatement},
    )
    out = tmp_path / "out"
    proc = run_cli("run", path, "-o", out)
    return proc, out


def assert_clean_failure(proc, out, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists(), "nothing may be written on failure"
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert lines, proc.stderr
    text = "\n".join(lines)
    for fragment in fragments:
        assert fragment in text, text
    return lines


def test_valid_base_case_runs(tmp_path):
    proc, out = run_bad(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.json").exists()


def test_unknown_sector(tmp_path):
    bad = ENTERPRISES.replace("B,electroplating", "B,zink")
    proc, out = run_bad(tmp_path, enterprises=bad)
    (line,) = assert_clean_failure(proc, out, "enterprises.csv line 3 (id B)", "sector 'zink' is not one of")
    assert "electroplating" in line


def test_negative_baseline(tmp_path):
    bad = ENTERPRISES.replace("A,zinc,yisuhe,100", "A,zinc,yisuhe,-5")
    proc, out = run_bad(tmp_path, enterprises=bad)
    assert_clean_failure(proc, out, "enterprises.csv line 2 (id A)", "baseline_Pb must be ≥ 0")


def test_missing_column_is_reported_once(tmp_path):
    bad = "id,zone,baseline_Pb\nA,yisuhe,100\nB,jiuhua,100\n"
    proc, out = run_bad(tmp_path, enterprises=bad)
    lines = assert_clean_failure(proc, out, "enterprises.csv", "missing column sector")
    assert len(lines) == 1


def test_unknown_enterprise_in_abatement(tmp_path):
    bad = ABATEMENT + "Z,Pb,linear,3\n"
    proc, out = run_bad(tmp_path, abatement=bad)
    assert_clean_failure(
        proc, out, "abatement.csv line 4 (enterprise Z)", "enterprise 'Z' is not in the enterprises table"
    )


def test_cap_that_cannot_be_met_reports_the_shortfall(tmp_path):
    """Both firms can abate at most their whole baseline only with options; with max 30 each they can
    abate 60 of 200, so a cap of 100 is 40 kg/yr short (hand-derived: 200 − 60 − 100 = 40)."""
    abatement = "enterprise,pollutant,kind,slope,max\nA,Pb,linear,2,30\nB,Pb,linear,4,30\n"
    sc = {**SCENARIO, "caps": [{"id": "city", "pollutant": "Pb", "total": 100}]}
    proc, out = run_bad(tmp_path, scenario=sc, abatement=abatement)
    (line,) = assert_clean_failure(proc, out, "cannot all be met", "cap city (Pb, period 1) short by 40 kg/yr")
    assert "scenario.yaml" in line


def test_every_problem_is_reported_at_once(tmp_path):
    enterprises = ENTERPRISES.replace("B,electroplating", "B,zink") + "A,zinc,,5\n"
    abatement = ABATEMENT + "Z,Pb,linear,3\nA,Pb,stepp,\n"
    sc = {**SCENARIO, "trading": {"scope": "everywhere"}, "caps": [{"pollutant": "Hg", "total": 1}]}
    proc, out = run_bad(tmp_path, scenario=sc, enterprises=enterprises, abatement=abatement)
    lines = assert_clean_failure(
        proc,
        out,
        "trading.scope 'everywhere'",
        "sector 'zink'",
        "duplicate id 'A'",
        "enterprise 'Z' is not in the enterprises table",
        "kind 'stepp'",
        "pollutant 'Hg' is not in pollutants",
    )
    assert len(lines) == 6


def test_failed_run_keeps_previous_results(tmp_path):
    proc, out = run_bad(tmp_path)
    assert proc.returncode == 0
    before = (out / "enterprises.csv").read_bytes()
    bad = ENTERPRISES.replace("B,electroplating", "B,zink")
    path = write_scenario(tmp_path / "sc", SCENARIO, {"enterprises.csv": bad, "abatement.csv": ABATEMENT})
    proc = run_cli("run", path, "-o", out)
    assert proc.returncode == 2
    assert (out / "enterprises.csv").read_bytes() == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]


def test_validate_checks_without_solving(tmp_path):
    path = write_scenario(tmp_path / "sc", SCENARIO, {"enterprises.csv": ENTERPRISES, "abatement.csv": ABATEMENT})
    proc = run_cli("validate", path)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    bad = write_scenario(
        tmp_path / "bad",
        {**SCENARIO, "caps": [{"pollutant": "Pb"}]},
        {"enterprises.csv": ENTERPRISES, "abatement.csv": ABATEMENT},
    )
    proc = run_cli("validate", bad)
    assert proc.returncode == 2
    assert "caps[0]" in proc.stderr and "exactly one of 'total'" in proc.stderr


def test_python_api_raises_typed_errors():
    with pytest.raises(ScenarioError) as info:
        emtrade.load_scenario({"name": "x", "pollutants": ["Pb"], "enterprises": [{"id": "A", "sector": "tin"}]})
    text = str(info.value)
    assert "enterprises[0] (id A): sector 'tin'" in text and "missing baseline" in text
    sc = {
        "name": "x",
        "pollutants": ["Pb"],
        "enterprises": [{"id": "A", "sector": "zinc", "baseline": {"Pb": 10}}],
        "caps": [{"pollutant": "Pb", "total": 5}],
    }
    with pytest.raises(InfeasibleError, match="short by 5 kg/yr"):
        emtrade.simulate(sc)


def test_table_path_may_not_leave_the_folder(tmp_path):
    (tmp_path / "outside.csv").write_text(ENTERPRISES, encoding="utf-8")
    sc = {**SCENARIO, "enterprises": "../outside.csv"}
    path = write_scenario(tmp_path / "sc", sc, {"abatement.csv": ABATEMENT})
    proc = run_cli("run", path, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "leaves the scenario's folder" in proc.stderr
    proc = run_cli("run", path, "-o", tmp_path / "out", "--allow-outside")
    assert proc.returncode == 0, proc.stderr
