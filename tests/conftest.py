"""Shared helpers: run the real ``emtrade`` command, write small scenarios to disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def emtrade_cmd() -> list[str]:
    """The installed console script, next to the running interpreter."""
    exe = Path(sys.executable).with_name("emtrade")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "emtrade"]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*emtrade_cmd(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def write_scenario(folder: Path, scenario: dict, tables: dict[str, str] | None = None, name="scenario.yaml") -> Path:
    """Write ``scenario`` as YAML and each ``tables[file] = csv text`` beside it; return the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in (tables or {}).items():
        (folder / file).write_text(text, encoding="utf-8")
    path = folder / name
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class RunOutput:
    """The files of an ``emtrade run`` results folder, read back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        self.enterprises = pd.read_csv(folder / "enterprises.csv", dtype={"period": str, "zone": str})
        self.prices = pd.read_csv(folder / "prices.csv", dtype={"period": str})
        self.firms = pd.read_csv(folder / "firms.csv", dtype={"period": str})
        self.caps = pd.read_csv(folder / "caps.csv", dtype={"period": str})
        path = folder / "receptors.csv"
        self.receptors = pd.read_csv(path, dtype={"period": str}) if path.stat().st_size > 60 else None


@pytest.fixture
def run_scenario(tmp_path):
    """Run ``emtrade run SCENARIO -o OUT`` for real and return the read-back outputs."""

    def _run(scenario: Path | str, *extra: str) -> RunOutput:
        out = tmp_path / f"out-{abs(hash((str(scenario), extra)))}"
        proc = run_cli("run", scenario, "-o", out, *extra)
        assert proc.returncode == 0, proc.stderr
        return RunOutput(out)

    return _run
