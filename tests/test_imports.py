"""``emtrade --help`` and ``emtrade validate`` start fast: they import neither pyomo nor plotly.

Each command runs in a fresh interpreter (a subprocess), through the same entry point as the
console script, and reports the modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import SCENARIOS

HEAVY = ("pyomo", "plotly")

PROBE = """
import json, sys
from emtrade.cli import main
try:
    main({args!r}, standalone_mode=False)
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def imported_by(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES="))
    return {m.split(".")[0] for m in json.loads(line[len("MODULES=") :])}


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("validate", "--help"),
        ("validate", str(SCENARIOS / "xiangtan" / "scenario.yaml")),
        ("validate", str(SCENARIOS / "textbook" / "field_field.yaml")),
    ],
    ids=["help", "validate-help", "validate-xiangtan", "validate-field-field"],
)
def test_light_commands_import_neither_pyomo_nor_plotly(args):
    top = imported_by(*args)
    assert "emtrade" in top
    assert not (top & set(HEAVY)), f"{' '.join(args)} imported {sorted(top & set(HEAVY))}"


def test_the_probe_sees_heavy_imports():
    """The check can fail: importing the pyomo model module shows up as pyomo."""
    proc = subprocess.run(
        [sys.executable, "-c", "import json, sys, emtrade.model.pyomo_model; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pyomo" in {m.split(".")[0] for m in json.loads(proc.stdout.splitlines()[-1])}
