"""A big mixed-integer scenario (technologies with fixed costs, closures) that HiGHS takes seconds to solve."""

from __future__ import annotations

import random
from pathlib import Path

import yaml


def write(folder, n: int, seed: int = 1) -> Path:
    """``n`` zinc plants with a step, a technology with a fixed cost and a closure each; return the YAML."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ents = ["id,sector,baseline_Pb,baseline_Cd"]
    ab = ["enterprise,kind,pollutant,quantity,cost,name,removal_Pb,removal_Cd,fixed_cost"]
    for i in range(n):
        b, c = rng.randint(50, 500), rng.randint(1, 20)
        ents.append(f"F{i},zinc,{b},{c}")
        ab.append(f"F{i},step,Pb,{b * 0.3:.1f},{rng.uniform(10, 200):.2f},,,,")
        cost, pb, cd = rng.uniform(1000, 50000), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
        fixed = rng.uniform(500, 2e4)
        ab.append(f"F{i},technology,,,{cost:.0f},tech{i % 7},{pb:.2f},{cd:.2f},{fixed:.0f}")
        ab.append(f"F{i},retire,,,{rng.uniform(20000, 200000):.0f},,,,")
    (folder / "enterprises.csv").write_text("\n".join(ents) + "\n")
    (folder / "abatement.csv").write_text("\n".join(ab) + "\n")
    sc = {
        "name": "big mip",
        "pollutants": ["Pb", "Cd"],
        "enterprises": "enterprises.csv",
        "abatement": "abatement.csv",
        "caps": [{"pollutant": "Pb", "reduction": 0.45}, {"pollutant": "Cd", "reduction": 0.5}],
        "trading": {"scope": "all"},
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(sc))
    return folder / "scenario.yaml"
