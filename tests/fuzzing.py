"""Mutations of a valid scenario, for the fuzz test (tests/test_fuzz.py) and benchmarks/fuzz.py.

A case is a valid scenario folder (YAML + CSV tables) with one or more mutations applied: values of
the wrong type, NaN and inf, numbers at extremes, deleted or unknown keys, missing and extra columns,
broken references, duplicated rows, other text encodings, truncated or binary files; and YAML no
mapping can express: alias bombs and cycles, duplicate keys, deep nesting, long numbers. Running
``emtrade run`` on a case must end in a valid result or in exit code 2 with one-line messages:
never a traceback, an internal error or a hang.
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

ENTERPRISES = (
    "id,name,sector,zone,output,baseline_Pb,baseline_Cd,history_Pb\n"
    "ZB-01,锌厂一,zinc,yisuhe,1000,100,5,110\n"
    "EP-02,电镀二,electroplating,jiuhua,500,80,2,70\n"
    "MN-03,锰厂三,manganese,manganese_mine,2000,20,1,20\n"
)
ABATEMENT = (
    "enterprise,kind,pollutant,slope,intercept,quantity,cost,name,removal_Pb,removal_Cd,fixed_cost,margin\n"
    "ZB-01,linear,Pb,2,0,,,,,,,\n"
    "EP-02,step,Pb,,,40,150,,,,,\n"
    "EP-02,technology,,,,,5000,sulfide,0.5,0.6,1000,\n"
    "MN-03,output_cut,,,,,,,,,,30\n"
    "MN-03,step,Cd,,,1,900,,,,,\n"
    "ZB-01,retire,,,,,20000,,,,,\n"
)
CAPS = "id,pollutant,sector,total,reduction\ncity-Pb,Pb,,150,\ncity-Cd,Cd,,,0.2\n"
SCENARIO = {
    "name": "fuzz base",
    "pollutants": ["Pb", "Cd"],
    "enterprises": "enterprises.csv",
    "abatement": "abatement.csv",
    "caps": "caps.csv",
    "allocation": {"method": "grandfathering"},
    "trading": {"scope": "all"},
}

WEIRD_VALUES = [
    None, "", "abc", "nan", "inf", "-inf", -1, -1e300, 0, 1e300, 1e13, 3.5, True, [], [1, 2], {}, {"a": 1},
    "湘潭", "1e-320", "9" * 400, "0x10", " 12 ", "1,000",
]  # fmt: skip


def _csv_mutation(rng: random.Random, text: str) -> str | bytes:
    lines = text.splitlines()
    if not lines:
        return text
    header = lines[0].split(",")
    kind = rng.choice(["cell", "cell", "cell", "drop_col", "add_col", "dup_row", "drop_row", "ragged", "truncate",
                       "encoding", "binary", "empty", "header_only", "blank_lines", "semicolon"])  # fmt: skip
    if kind == "cell" and len(lines) > 1:
        r = rng.randrange(1, len(lines))
        cells = lines[r].split(",")
        c = rng.randrange(len(cells))
        value = rng.choice(WEIRD_VALUES)
        cells[c] = "" if value is None else str(value).replace(",", ";")
        lines[r] = ",".join(cells)
    elif kind == "drop_col":
        c = rng.randrange(len(header))
        lines = [",".join(x for k, x in enumerate(line.split(",")) if k != c) for line in lines]
    elif kind == "add_col":
        lines = [lines[0] + "," + rng.choice(["extra", "baseline_Hg", "info_note", "allocation_Pb", "slope"])] + [
            line + "," + str(rng.choice(WEIRD_VALUES[2:12])) for line in lines[1:]
        ]
    elif kind == "dup_row" and len(lines) > 1:
        lines.append(lines[rng.randrange(1, len(lines))])
    elif kind == "drop_row" and len(lines) > 1:
        del lines[rng.randrange(1, len(lines))]
    elif kind == "ragged" and len(lines) > 1:
        lines[rng.randrange(1, len(lines))] += ",1,2,3"
    elif kind == "truncate":
        data = "\n".join(lines).encode("utf-8")
        return data[: rng.randrange(0, len(data))]
    elif kind == "encoding":
        enc = rng.choice(["gbk", "gb18030", "utf-8-sig", "utf-16", "latin-1"])
        return "\n".join(lines).encode(enc, errors="replace")
    elif kind == "binary":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    elif kind == "empty":
        return ""
    elif kind == "header_only":
        return lines[0] + "\n"
    elif kind == "blank_lines":
        lines = [x for line in lines for x in (line, "")]
    elif kind == "semicolon":
        lines = [line.replace(",", ";") for line in lines]
    return "\n".join(lines) + "\n"


def _yaml_mutation(rng: random.Random, sc: dict) -> dict:
    kind = rng.choice(["value", "delete", "unknown", "table_inline", "reference", "policy"])
    keys = list(sc)
    if kind == "value":
        sc[rng.choice(keys)] = rng.choice(WEIRD_VALUES)
    elif kind == "delete":
        sc.pop(rng.choice(keys))
    elif kind == "unknown":
        sc[rng.choice(["nmae", "trade", "cap", "extra"])] = rng.choice(WEIRD_VALUES)
    elif kind == "table_inline":
        sc["caps"] = rng.choice([[], [{"pollutant": "Pb"}], [{"pollutant": "Hg", "total": 1}], "missing.csv",
                                 "../outside.csv", [{"pollutant": "Pb", "total": -5}], [1, 2]])  # fmt: skip
    elif kind == "reference":
        sc["phase_out"] = rng.choice([["ZB-01"], ["nobody"], "ZB-01", [None], [["x"]]])
    else:
        sc["trading"] = rng.choice([
            {"scope": "sector"}, {"scope": "zone"}, {"scope": "none"}, {"scope": "everywhere"},
            {"scope": "all", "fee": 10}, {"scope": "all", "price_ceiling": {"Pb": 100}}, {"banking": "yes"},
            {"scope": "all", "exchange": "pollution_equivalent"}, {"scope": "zone", "ratios": [{"from": "a"}]},
            {"scope": "all", "no_net_inflow": ["yisuhe"]}, {"scope": "all", "reserve": {"price": 5}},
        ])  # fmt: skip
    return sc


YAML_TEXT_KINDS = ("alias_bomb", "small_aliases", "alias_cycle", "duplicate_key", "duplicate_flow_key",
                   "deep_nesting", "long_integer", "digit_separator")  # fmt: skip


def yaml_text_mutation(rng: random.Random, text: str, kind: str | None = None) -> str:
    """Hostile YAML that no dict can express: alias bombs and cycles, duplicate keys, deep nesting, long numbers.

    ``text`` is a scenario's YAML; the result has one such construct added (``kind``, else drawn).
    """
    kind = kind or rng.choice(YAML_TEXT_KINDS)
    lines = text.splitlines()
    if kind in ("alias_bomb", "small_aliases"):
        # billion laughs: width ** levels scalars; a bomb is far over the bound, small aliases far under
        levels, width = (rng.randint(7, 12), rng.randint(8, 12)) if kind == "alias_bomb" else (rng.randint(1, 3), 10)
        names = [f"l{i}" for i in range(levels)]
        bomb = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
        bomb += [f"{n}: &{n} [{', '.join([f'*{names[i]}'] * width)}]" for i, n in enumerate(names[1:])]
        key = rng.choice(["description", "phase_out", "extra", "trading", "caps"])
        bomb.append(f"{key}: *{names[-1]}")
        lines = _drop_top(lines, key) + bomb
    elif kind == "alias_cycle":
        lines.append(rng.choice(["extra: &c [1, *c]", "phase_out: &c [*c]", "trading: &c {scope: all, x: *c}"]))
    elif kind == "duplicate_key":
        tops = [x for x in lines if x and not x.startswith((" ", "-"))]
        lines.append(rng.choice(tops) if tops else "name: again")
    elif kind == "duplicate_flow_key":
        lines = _drop_top(_drop_top(lines, "allocation"), "trading")
        lines.append(rng.choice(["allocation: {method: grandfathering, method: auction}",
                                 "trading: {scope: all, scope: none}"]))  # fmt: skip
    elif kind == "deep_nesting":
        depth = rng.choice([50, 101, 500, 5000])
        lines.append(f"{rng.choice(['extra', 'description', 'phase_out'])}: {'[' * depth}1{']' * depth}")
    elif kind == "long_integer":
        digits = rng.choice([300, 401, 4301, 5000, 20000])
        lines = [*_drop_top(lines, "discount_rate"), f"discount_rate: {'9' * digits}"]
    elif kind == "digit_separator":
        lines = _drop_top(lines, "discount_rate")
        lines.append("discount_rate: " + rng.choice(["0_1", "0.0_5", "1_0e-2", "'0_1'"]))
    return "\n".join(lines) + "\n"


def _drop_top(lines: list[str], key: str) -> list[str]:
    """The lines of a block-style YAML mapping without the top-level ``key`` and its indented block."""
    out, inside = [], False
    for line in lines:
        if line and not line.startswith((" ", "-")):
            inside = line.startswith(f"{key}:")
        if not inside:
            out.append(line)
    return out


def make_case(folder: Path, seed: int | random.Random) -> Path:
    """Write one mutated scenario into ``folder`` (mutations drawn from ``seed`` or a Random); return the YAML."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"enterprises.csv": ENTERPRISES, "abatement.csv": ABATEMENT, "caps.csv": CAPS}
    sc = yaml.safe_load(yaml.safe_dump(SCENARIO))
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if rng.random() < 0.55:
            name = rng.choice(list(tables))
            current = tables[name]
            tables[name] = _csv_mutation(rng, current) if isinstance(current, str) else current
        else:
            sc = _yaml_mutation(rng, sc)
    for name, content in tables.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    path = folder / "scenario.yaml"
    text = yaml.safe_dump(sc, allow_unicode=True)
    draw = rng.random()
    if draw < 0.05:
        text = text[: rng.randrange(len(text) + 1)]  # truncated YAML
    elif draw < 0.15:
        text = yaml_text_mutation(rng, text)
    path.write_text(text, encoding="utf-8")
    return path
