"""Generate the bundled Xiangtan scenario, 2016–2020: synthetic enterprises, abatement menus, the policy.

    /work/main/.venv/bin/python scenarios/xiangtan/generate.py

writes ``enterprises.csv``, ``abatement.csv``, ``caps.csv``, ``zones.csv``, ``limits.csv``,
``receptors.csv``, ``transfer.csv`` and ``scenario.yaml`` beside this file, and prints a calibration
summary. The run is deterministic (numpy's PCG64 with the fixed ``SEED``; no network, no clock), so
running it again reproduces the committed files byte for byte. Numbers are written with four or
five significant digits, so that in practice the files do not depend on the last bits of the
floating-point arithmetic either.

Every enterprise is **synthetic**: no real firm is named or described. The population is built
from the sourced figures in ``/work/shared/docs/domain-facts.md`` (cited below as "DF §x.y",
with the reliability grade A/B/C/D or "Derived" given there); every assumption of our own is a
named constant marked "assumption". ``docs/data.md`` explains the construction for readers.

How a firm is built
-------------------
1. **Size**: output (the sector's physical unit per year, see ``OUTPUT_UNITS``) drawn from a
   log-normal distribution clipped to the sector's range (DF §3.2, §9).
2. **Wastewater**: output × a water intensity (m³ per unit of output; DF §2.2, §3.1).
3. **Effluent concentration** of each metal = the applicable discharge limit (DF §2.1) × a
   compliance ratio. Most firms discharge below the limit (ratio 0.3–1); "backward" firms
   (环保不达标企业, which the speech says must be brought into line) discharge above it
   (1.3–6×) in the metals their treatment handles badly.
   For the zinc-products SMEs and the inorganic-chemicals SMEs, whose water intensity is not
   sourced, the wastewater is scaled by one factor so that their mean Pb, As and Cd discharges come
   as close as one factor allows to the per-firm averages of the 39 Zhuzhou Qingshuitang SMEs
   closed in 2011 (Pb 8.7, As 18.1, Cd 4.3 kg/yr; DF §3.1, B).
4. **Baseline** (kg/yr) = wastewater (m³/yr) × concentration (mg/L = g/m³) / 1000: the 2016
   discharge with current treatment and no further abatement. **History** (the grandfathering
   basis: the firm's 2014 discharge) = baseline × a factor within ±20 %.

The abatement menu of a firm has one row per option; removal shares are shares of the baseline,
and emtrade adds the options of one firm linearly, so they are written as *increments*. Options
are built per **treatment line** (``TREATMENT_LINES``: sulfide precipitation for Pb, Cd,
Hg, Zn, Cu, Ni; iron-salt co-precipitation for As; Cr6+ reduction and precipitation for Cr6+ and
total Cr; MnO₂-seeded aeration for Mn; DF §4.1), for every line that treats a capped metal:

- **Stage 1** (where the firm exceeds a limit in that line): the upgrade that brings the effluent
  to 80 % of the basic standard. Removal 1 − target/concentration for metals above it, a small
  co-removal for the line's other metals. Running cost CNY/m³ × wastewater, plus for firms above
  30,000 m³/yr a lumpy investment (``fixed_cost``, annualised).
- **Stage 2**: polishing to the special limits (特别排放限值), and at least 40 % of what stage 1
  leaves. Small firms get it as one technology per line (CNY/m³ × wastewater); large plants get
  metal-specific ``step`` rows whose CNY/kg follow from CNY/m³ ÷ g/m³ removed: the steep segment
  of the MAC ladder (DF §4.3, Derived: Pb ≈ 3,000–10,000, Cd ≈ 30,000–100,000 CNY/kg).
- **Stage 3** (the larger firms of some sectors): membrane reuse (UF/RO) removing most of what is
  left after stage 2, the dearest polishing stage, with a lumpy investment.
- **Sector-specific process changes**: EMM clean production (closed-loop rinsing; a negative
  running cost, DF §4.2, B), chrome-liquor recycling in tanneries, the steel mill's No.3
  blast-furnace dust and water-treatment retrofit (DF §6.2, B) and cold-rolling Cr6+ upgrade.
- **Output cut** (限产) for every firm at its profit margin (CNY per unit of output), which also
  guarantees that command-and-control is feasible.
- **Retirement** (closure, binary) for small backward plants below the sector's entry threshold.

A technology that treats another's effluent names it in ``requires`` (polishing requires the stage-1
upgrade of its line where the firm has one; membrane reuse requires the first line's polishing).
Investments are lumpy (binary) only at plants of at least ``LUMPY_MIN_WASTEWATER``.

The 2016–2020 policy
--------------------
- **Caps** per sector, metal and year (``CAP_PATH``): Pb and Cd −6 % in 2016, −12 % in 2017 (the
  city's 2015–2017 plan, DF §6.2, B), then −18/−24/−30 %; the other capped metals −2 % a year to
  −10 % in 2020 (the national target, DF §1.1, B); all shares of the sector's 2016 baseline.
- **Allocation**: grandfathering on 2014 discharges, with Zhuzhou's paid-use fees (DF §5.2, A).
- **Trading** within each sector, with **banking**, a 8 % discount rate, a Zhuzhou-style **government
  reserve** selling Pb, Cd and As at Zhuzhou's prices (DF §5.2, A), carved out of the caps, and **no
  net inflow** into the five key zones (DF §5.1, B).
- **Firm limits** (一厂一策) from 2017: each backward firm's capped metals at its basic standard.
- **Daily fines** (按日计罚, DF §8, B/D) on discharge beyond the permits held.
- **Receptors** (``RIVERS``): the Xiangjiang main stem through Xiangtan and its tributaries the
  Juanshui (Yisuhe) and the Lianshui (Xiangxiang, Shaoshan), at dry-season design flows, against the
  GB 3838-2002 class II/III limits (DF §6.3, A), computed chain by chain with ``emtrade.river`` and
  written as explicit ``receptors.csv`` and ``transfer.csv`` tables.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2016  # fixed: the scenario's base year

# --------------------------------------------------------------------------------------------------
# Metals, standards and caps
# --------------------------------------------------------------------------------------------------

#: the metals modelled (DF §9.1: Pb, Cd, Hg, As, Cr6+, total Cr capped; Mn, Zn tracked; Ni, Cu
#: optional, kept because electroplating discharges them, DF §1.2 (A))
POLLUTANTS = ("Pb", "Cd", "Hg", "As", "Cr6+", "Cr", "Ni", "Cu", "Zn", "Mn")

#: Discharge limits in mg/L (DF §2.1). "basic" is the limit an existing source must meet in 2016;
#: "special" the special emission limit (特别排放限值) that polishing aims at.
LIMITS: dict[str, dict[str, float]] = {
    # GB 21900-2008 Table 2 (existing electroplating sources from 2010-07-01). Pb/Cd/Hg/Cr/Cr6+ B
    # (DB41/777 repeats them); Ni, Zn, Cu D.
    "GB21900_T2": {"Pb": 0.2, "Cd": 0.05, "Hg": 0.01, "Cr6+": 0.2, "Cr": 1.0, "Ni": 0.5, "Zn": 1.5, "Cu": 0.5},
    # GB 21900-2008 Table 3 special limits. Pb/Cd/Cr/Cr6+/Ni A; Zn, Cu D.
    "GB21900_T3": {"Pb": 0.1, "Cd": 0.01, "Hg": 0.005, "Cr6+": 0.1, "Cr": 0.5, "Ni": 0.1, "Zn": 1.0, "Cu": 0.3},
    # GB 25466-2010 (lead & zinc) Table 2: Pb/Cd/Hg/As B (via DB41/777); Zn D.
    "GB25466_T2": {"Pb": 0.5, "Cd": 0.05, "Hg": 0.03, "As": 0.3, "Zn": 1.5},
    # GB 25466-2010 Table 3 special limits: all D.
    "GB25466_T3": {"Pb": 0.2, "Cd": 0.02, "Hg": 0.01, "As": 0.1, "Zn": 1.0},
    # GB 13456-2012 (iron & steel) Table 2 and Table 3: all D (tables not retrieved); Mn from GB 8978 (A).
    "GB13456_T2": {
        "Pb": 1.0,
        "Cd": 0.1,
        "Hg": 0.05,
        "As": 0.5,
        "Cr6+": 0.5,
        "Cr": 1.5,
        "Ni": 1.0,
        "Zn": 2.0,
        "Mn": 2.0,
    },
    "GB13456_T3": {
        "Pb": 0.1,
        "Cd": 0.01,
        "Hg": 0.01,
        "As": 0.1,
        "Cr6+": 0.05,
        "Cr": 0.1,
        "Ni": 0.05,
        "Zn": 1.0,
        "Mn": 0.5,
    },
    # GB 30486-2013 (leather) Table 2: C + D; special limits D.
    "GB30486_T2": {"Cr6+": 0.1, "Cr": 1.5},
    "GB30486_SP": {"Cr6+": 0.05, "Cr": 0.5},
    # GB 8978-1996 class-1 pollutants (workshop outlet) and grade-1 Zn/Cu/Mn: A. Used for the
    # chemicals and manganese sectors, whose own standard (GB 31573-2015) was not retrieved.
    "GB8978": {
        "Pb": 1.0,
        "Cd": 0.1,
        "Hg": 0.05,
        "As": 0.5,
        "Cr6+": 0.5,
        "Cr": 1.5,
        "Ni": 1.0,
        "Zn": 2.0,
        "Cu": 0.5,
        "Mn": 2.0,
    },
    # Assumption: polishing targets for chemicals/manganese (no special limits retrieved): GB 21900
    # Table 3 for Pb/Cd/Cr/Cr6+/Ni (A), Hg 0.005 and As 0.1 (D), Zn 1.0 and Cu 0.3 (D), and Mn 0.5,
    # just above the < 0.4 mg/L outlet of MnO₂-seeded aeration on EMM wastewater (DF §4.1, B).
    "SPECIAL_PROXY": {
        "Pb": 0.1,
        "Cd": 0.01,
        "Hg": 0.005,
        "As": 0.1,
        "Cr6+": 0.1,
        "Cr": 0.5,
        "Ni": 0.1,
        "Zn": 1.0,
        "Cu": 0.3,
        "Mn": 0.5,
    },
}

#: The periods: the 13th Five-Year Plan years. Caps, reserve, limits and receptors apply per year.
PERIODS = ("2016", "2017", "2018", "2019", "2020")
#: Sector-wide cap trajectories: the share of the sector's 2016 baseline cut in each period.
#: - Pb and Cd: Xiangtan's 2015–2017 plan, −12 % by end-2017 (DF §6.2, B); 2016 halfway (−6 %,
#:   assumption); then the plan's pace, 6 points a year, continued to −30 % in 2020 (assumption:
#:   deeper than the national −10 % from 2013 to 2020 of the MEE 2018 Opinion, DF §1.1, B, and far from
#:   the basin plan's long-run −70 % vs 2008, DF §6.1, B, which Xiangtan reported reaching for Pb, Cd,
#:   Cr and As in 2011–2015, DF §6.2, B).
#: - As, Hg, Cr6+ and total Cr: the national −10 % by 2020 (MEE 2018 Opinion, DF §1.1, B), reached in
#:   a straight line from the 2016 baseline, 2 points a year (assumption: the 2013–2015 progress is not
#:   counted).
#: - Mn (manganese sector only): the same path (assumption, standing for the manganese-mine area
#:   remediation, phase III, DF §6.2, B; no number published).
#: Zn, Ni and Cu are tracked, not capped (DF §9.1).
CAP_PATH: dict[str, tuple[float, ...]] = {
    "Pb": (0.06, 0.12, 0.18, 0.24, 0.30),
    "Cd": (0.06, 0.12, 0.18, 0.24, 0.30),
    "As": (0.02, 0.04, 0.06, 0.08, 0.10),
    "Hg": (0.02, 0.04, 0.06, 0.08, 0.10),
    "Cr6+": (0.02, 0.04, 0.06, 0.08, 0.10),
    "Cr": (0.02, 0.04, 0.06, 0.08, 0.10),
}
CAP_PATH_SECTOR_ONLY = {"Mn": ("manganese", (0.02, 0.04, 0.06, 0.08, 0.10))}
assert all(len(v) == len(PERIODS) for v in CAP_PATH.values())

#: Zhuzhou-style government reserve (排污权储备): the reserve sells permits at Zhuzhou's administered
#: trading prices, Pb 500, Cd 600, As 500 CNY/kg (株发改发〔2016〕210号, DF §5.2, A). Zhuzhou prices only
#: these three metals, and Hunan's rules added Hg and Cr to trading only in 2022 (DF §5.2, B), so the
#: reserve holds Pb, Cd and As only.
RESERVE_PRICE = {"Pb": 500.0, "Cd": 600.0, "As": 500.0}
#: The reserve holds this share of the city's 2016 baseline of each of its metals per period, and is
#: carved out of the sector caps (each sector's allocated cut is this much deeper), so that permits
#: allocated plus the whole reserve add up to the plan's cap (assumption: no share is published).
RESERVE_SHARE = 0.02
#: Paid initial allocation (有偿使用): Zhuzhou's annual fee per kg of permits held, Pb 10, Cd 30,
#: As 13 CNY/kg·yr (株发改发〔2016〕210号, DF §5.2, A).
ALLOCATION_FEE = {"Pb": 10.0, "Cd": 30.0, "As": 13.0}
#: Discount rate for present values over 2016–2020 and for banking (assumption: 8 %/yr, the rate of
#: the capital recovery factor below).
DISCOUNT_RATE = 0.08
#: Daily fines (按日计罚): Environmental Protection Law 2014 art. 59 and MEP Order No. 28 — after a fine
#: and an order to correct, the violation is fined again every day it continues, at the original fine
#: (DF §8, B); exceeding a total-emission quota is a trigger (B). The original fine: the Water
#: Pollution Prevention Law 2017, art. 83, 100,000–1,000,000 CNY for exceeding totals (DF §8, D); we take
#: the minimum, 100,000 CNY per day, for every period (assumption: the 2008 law's 2–5× the levy applied
#: until 2017). emtrade turns it into CNY/kg with ``kg_per_day``, the excess that counts as one day of
#: violation: see :func:`kg_per_day`.
DAILY_FINE = 100_000.0
#: Firm-specific limits (一厂一策) for the backward firms (above their basic discharge standard in some
#: capped metal): from this period on, at most what their wastewater carries at the basic standard
#: (wastewater × basic limit), so that permits bought cannot cover a breach of the standard. 2017 is the
#: last year of Xiangtan's 2015–2017 plan (DF §6.2, B); that the plan set this deadline is our assumption.
LIMIT_FROM = "2017"
#: The key zones of the speech: no net inflow of permits (DF §5.1 (e), B; DF §9.6).
KEY_ZONES = ("zhubugang", "manganese_mine", "yisuhe", "xianggang", "xiangxiang")

# --------------------------------------------------------------------------------------------------
# Economics shared by the sectors
# --------------------------------------------------------------------------------------------------

OPERATING_DAYS = 330  # assumption: days of discharge per year, to size treatment plants in m³/d
#: capital recovery factor at 8 %/yr over 10 years: 0.08 / (1 − 1.08⁻¹⁰) (assumption)
CRF = 0.08 / (1 - 1.08**-10)
#: Capex of a new or upgraded wastewater plant, CNY per (m³/d) of capacity. Full acid-wastewater
#: plants at lead-zinc smelters cost 9,800–12,270 CNY per (m³/d) (DF §4.2, C); an upgrade of an
#: existing plant's line is taken at 10–20 % of that per treatment line (assumption), membrane reuse
#: at the full figure.
CAPEX_UPGRADE_PER_M3D = (1000.0, 2000.0)
CAPEX_MEMBRANE_PER_M3D = (9800.0, 12270.0)
#: Firms discharging less than this (m³/yr) buy packaged equipment for a stage-1 upgrade: no
#: investment is counted beyond the running cost (assumption).
CAPEX_MIN_WASTEWATER = 30_000.0
#: Only plants discharging at least this (m³/yr, ≈ 300 m³/d) make their investments as lumpy, all-or-
#: nothing decisions (binary: the fixed cost is paid once any share is adopted). Below it, the
#: annualised investment is added to the running cost at full adoption, as for modular equipment sized
#: to the share treated (assumption; it keeps the five-period MIP small: ~40 binaries a year instead of
#: ~120, and the bundled run fast).
LUMPY_MIN_WASTEWATER = 100_000.0
MEMBRANE_MIN_WASTEWATER = 20_000.0
#: Treatment lines by chemistry (DF §4.1): the metals each removes, the name of its stage-1 upgrade
#: and of its stage-2 polishing, and their running costs in CNY/m³. The lines' costs are assumptions
#: (D) chosen so that a plant fixing every line pays ~2–5 CNY/m³ more for stage 1 (the industry averages
#: are 5–8 CNY/m³ for electroplating and 5.45 CNY/m³ for a three-stage lead-zinc plant, DF §4.2, C) and
#: ~1.5–3.5 CNY/m³ more for polishing (+1–3 CNY/m³ in DF §4.3, itself an assumption). Iron-salt dosing
#: for As and aeration for Mn are the cheap lines; sulfide polishing the dear one.
TREATMENT_LINES: dict[str, dict] = {
    "sulfide": {
        "metals": ("Pb", "Cd", "Hg", "Zn", "Cu", "Ni"),
        "stage1": "sulfide precipitation upgrade",
        "stage2": "sulfide polishing and sand filtration",
        "cost1": (0.8, 1.8),
        "cost2": (0.5, 1.2),
    },
    "arsenic": {
        "metals": ("As",),
        "stage1": "iron-salt co-precipitation upgrade (As)",
        "stage2": "iron-salt polishing (As)",
        "cost1": (0.3, 0.8),
        "cost2": (0.3, 0.6),
    },
    "chromium": {
        "metals": ("Cr6+", "Cr"),
        "stage1": "Cr6+ reduction and precipitation upgrade",
        "stage2": "Cr6+ reduction polishing",
        "cost1": (0.5, 1.2),
        "cost2": (0.4, 0.9),
    },
    "manganese": {
        "metals": ("Mn",),
        "stage1": "MnO2-seeded aeration upgrade",
        "stage2": "MnO2 filtration polishing",
        "cost1": (0.5, 1.2),
        "cost2": (0.3, 0.7),
    },
}
#: Polishing takes a metal to its special limit, and cuts at least this share of what it receives
#: even where the effluent is already below the special limit (assumption; sulfide precipitation
#: reaches Pb < 0.1 and Cd < 0.01 mg/L, DF §4.1, C).
POLISH_MIN = 0.4
#: Metal-specific polishing for large plants, CNY per m³ of flow polished for that metal (assumption:
#: the lines' stage-2 costs above, split among their metals); the CNY/kg of a step is this ÷ the g/m³
#: removed. The first half of the gap costs STEP_FACTORS[0] × and the second half STEP_FACTORS[1] ×
#: the mean (a convex curve).
STEP_COST_PER_M3 = {"Pb": 0.8, "Cd": 0.8, "Hg": 0.8, "As": 0.3, "Cr6+": 0.6, "Cr": 0.6, "Mn": 0.5}
STEP_FACTORS = (0.6, 1.6)
#: Membrane reuse (UF + RO): removes MEMBRANE_REMOVAL of what is left after polishing (RO rejects
#: > 99 % of Pb, DF §4.1, C; the concentrate is partly returned, assumption), at 4–8 CNY/m³ more
#: (assumption; between the 3.5 CNY/m³ best practice with reuse and the 5–8 CNY/m³ average, DF §4.2, C,
#: plus concentrate handling, which DF §4.3 leaves unsourced: grade D).
MEMBRANE_REMOVAL = 0.8
MEMBRANE_COST_PER_M3 = (4.0, 8.0)
#: Stage 1 brings a metal above its limit to this fraction of the limit (assumption: plants aim
#: below the limit with a margin).
STAGE1_TARGET = 0.8
#: Stage 1 also removes this share of metals already below their limit (co-precipitation, assumption).
STAGE1_CO_REMOVAL = (0.05, 0.20)
#: History (2014 discharge, the grandfathering basis) = baseline × exp(N(mu, sigma)) clipped to ±20 %
#: (assumption: discharges drifted down a little from 2014 to 2016).
HISTORY_LOG_MEAN, HISTORY_LOG_SD, HISTORY_CLIP = 0.02, 0.07, (0.8, 1.2)
#: Closure of a plant loses its margin on all output but saves RETIRE_FIXED_SAVED of it (fixed
#: costs no longer paid), and costs a site clean-up annualised over 10 years (assumption).
RETIRE_FIXED_SAVED = 0.3
RETIRE_CLEANUP = (0.5e6, 2.0e6)  # CNY, one-off (assumption)
#: Compliance ratio (effluent concentration / basic limit) of compliant firms: log-normal,
#: median and log-sd, clipped (assumption; DF §9.3 suggests 0.5–1× the limit).
COMPLIANT_RATIO = (0.7, 0.3, (0.3, 1.0))
#: Compliance ratio of backward firms in the metals they exceed (assumption): median 2.5× the limit.
BACKWARD_RATIO = (2.5, 0.4, (1.3, 6.0))
#: Spread of one metal's ratio around the firm's (assumption); a compliant firm stays below this
#: share of every limit.
METAL_RATIO_SD = 0.25
COMPLIANT_MAX = 0.95

#: Output units, per sector (the model treats output as "t/yr"; electroplating is measured in m²).
OUTPUT_UNITS = {
    "ferrous": "t/yr of crude steel or ferro-alloy",
    "chemicals": "t/yr of product (pigments, chromium salts, inorganic salts); t/yr of raw hide for tanneries",
    "manganese": "t/yr of EMM, EMD or manganese compounds",
    "zinc": "t/yr of zinc products",
    "electroplating": "m²/yr of plated area",
}

# --------------------------------------------------------------------------------------------------
# The archetypes: kinds of firms, how many, where, how big
# --------------------------------------------------------------------------------------------------


#: Qingshuitang (Zhuzhou) SMEs closed in 2011: per-firm average discharge, kg/yr (DF §3.1, B Derived).
QINGSHUITANG_MEAN = {"Pb": 8.7, "As": 18.1, "Cd": 4.3}
#: Their metal mix relative to the discharge limits: Cd:Pb is 0.5 by mass against 0.1 in the limits,
#: so the zinc and inorganic-chemicals SMEs discharge Pb at a lower and Cd at a higher share of its
#: limit than the other metals (multipliers of the compliance ratio, chosen so that the calibrated
#: group reproduces the Qingshuitang mix within ~25 %; assumption).
QINGSHUITANG_MIX = {"Pb": 0.45, "Cd": 1.3}


@dataclass(frozen=True)
class Archetype:
    """A kind of synthetic firm. Sizes are in the sector's output unit (``OUTPUT_UNITS``)."""

    key: str
    sector: str
    label: str  # for the synthetic display name
    zones: dict[str, int]  # zone -> number of firms
    output_median: float
    output_sd: float  # log-sd
    output_range: tuple[float, float]
    water: tuple[float, float]  # m³ per unit of output (uniform range)
    metals: dict[str, float]  # metal -> probability that a firm of this kind discharges it
    basic: str  # key of LIMITS
    special: str  # key of LIMITS
    backward_share: float  # probability that a firm is backward
    #: the metals a backward firm exceeds its limits in (its treatment's weak point); empty: all
    backward_metals: tuple[str, ...] = ()
    metal_ratio: dict[str, float] = field(default_factory=dict)  # metal -> ratio multiplier
    #: names of (stage-1, stage-2) per treatment line where this kind of firm calls them otherwise
    line_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    large_output: float = float("inf")  # at or above: metal-specific steps instead of a joint stage 2
    membrane: bool = False
    margin: float = 0.0  # CNY per unit of output
    retire_below: float = 0.0  # backward firms below this output may close (binary)
    calibrate: bool = False  # scale the wastewater to the Qingshuitang SME averages of Pb/As/Cd


ARCHETYPES: tuple[Archetype, ...] = (
    # ---- ferrous: ferro-alloy plants around the former Hunan Ferroalloy works in Xiangxiang (DF §1.2, B;
    # the chromium-slag incident of 2009). Sizes 20–80 kt/yr (assumption, D); water 3 m³/t (assumption, D).
    Archetype(
        "ferroalloy",
        "ferrous",
        "ferro-alloy plant",
        {"xiangxiang": 4},
        output_median=35e3,
        output_sd=0.5,
        output_range=(15e3, 90e3),
        water=(2.0, 4.0),
        metals={"Cr6+": 1.0, "Cr": 1.0, "Mn": 1.0, "Pb": 0.8, "Cd": 0.6, "Zn": 0.8, "Ni": 0.4},
        basic="GB13456_T2",
        special="GB13456_T3",
        backward_share=0.4,
        backward_metals=("Cr6+", "Cr", "Mn"),
        metal_ratio={"Pb": 0.7, "Cd": 1.0, "Zn": 0.5, "Ni": 0.5},
        large_output=40e3,
        margin=300.0,
        retire_below=30e3,
    ),
    # ---- chemicals: inorganic pigments (lead chromate, encapsulated and cadmium pigments) at Yisuhe,
    # where the 牛头化工 site lies (DF §6.2, B), and elsewhere. 3–20 kt/yr (assumption, D); water
    # 8–14 m³/t (assumption, D; the 28 Zhubugang chemical firms discharged ~94,000 m³/yr each, DF §3.1 Derived).
    Archetype(
        "pigment",
        "chemicals",
        "inorganic pigment plant",
        {"yisuhe": 5, "other": 2},
        output_median=7e3,
        output_sd=0.6,
        output_range=(2e3, 25e3),
        water=(8.0, 14.0),
        metals={"Pb": 1.0, "Cr6+": 1.0, "Cr": 1.0, "Cd": 0.6, "Zn": 0.8},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.25,
        backward_metals=("Pb", "Cr6+", "Cr"),
        metal_ratio={"Cd": 0.6},
        large_output=10e3,
        margin=1500.0,
        retire_below=5e3,
    ),
    # chromium salts (sodium dichromate): GB 8978 allows 5 m³/t (DF §2.2, A); 10–30 kt/yr (assumption, D).
    Archetype(
        "chromium_salt",
        "chemicals",
        "chromium-salt plant",
        {"yisuhe": 1, "other": 1},
        output_median=15e3,
        output_sd=0.3,
        output_range=(10e3, 30e3),
        water=(3.5, 5.0),
        metals={"Cr6+": 1.0, "Cr": 1.0, "Pb": 0.5},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.0,
        metal_ratio={"Cr6+": 1.2, "Cr": 1.0},
        large_output=10e3,
        membrane=True,
        margin=1200.0,
    ),
    # tanneries in the Xiangxiang leather park (DF §3.2, C) and a few elsewhere. Output in t of raw hide:
    # 20,000–300,000 hides/yr (DF §3.2: entry threshold 100,000 hides/yr, B; the largest Xiangxiang tannery
    # ~0.3 M hides/yr, C) at an assumed 25 kg per hide (D), so 500–7,500 t/yr. Water: 0.75 m³ per hide
    # reported for Xiangxiang (C) = 30 m³/t; the national range is 60–120 t per t raw hide (C). We use
    # 30–50 m³/t, the local figure and a little above.
    Archetype(
        "tannery",
        "chemicals",
        "tannery",
        {"xiangxiang": 22, "other": 2},
        output_median=2000.0,
        output_sd=0.6,
        output_range=(500.0, 7500.0),
        water=(30.0, 50.0),
        metals={"Cr": 1.0, "Cr6+": 0.7},
        basic="GB30486_T2",
        special="GB30486_SP",
        backward_share=0.35,
        backward_metals=("Cr",),
        line_names={
            "chromium": (
                "chrome-wastewater segregation and precipitation upgrade",
                "coagulation polishing and filtration",
            )
        },
        margin=4000.0,
        retire_below=2500.0,  # 2,500 t ≈ 100,000 hides: the entry threshold (B)
    ),
    # inorganic salts from industrial waste (zinc/copper/manganese salts; DF §1.1 names "zinc inorganic
    # compounds made from industrial solid waste" as a key industry, B). Qingshuitang-like SMEs:
    # Pb/As/Cd calibrated to DF §3.1. 2–10 kt/yr, 6–10 m³/t (assumption, D).
    Archetype(
        "inorganic",
        "chemicals",
        "inorganic-salt works",
        {"yisuhe": 3, "other": 3, "jiuhua": 1},
        output_median=5e3,
        output_sd=0.5,
        output_range=(1.5e3, 12e3),
        water=(6.0, 10.0),
        metals={"Pb": 1.0, "As": 1.0, "Cd": 1.0, "Hg": 0.5, "Zn": 1.0, "Cu": 0.8, "Mn": 0.6},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.35,
        backward_metals=("As", "Cd"),
        metal_ratio=QINGSHUITANG_MIX,
        margin=500.0,
        retire_below=4e3,
        calibrate=True,
    ),
    # ---- manganese. EMD: the city's large EMD producer (the largest in China, DF §3.2, C) is represented
    # by one synthetic 40 kt/yr plant (assumption, D). Water 3–4 m³/t (assumption: as EMM).
    Archetype(
        "emd",
        "manganese",
        "EMD plant",
        {"manganese_mine": 1},
        output_median=40e3,
        output_sd=0.0,
        output_range=(40e3, 40e3),
        water=(3.5, 3.5),
        metals={"Mn": 1.0, "Pb": 1.0, "Cd": 1.0},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.0,
        large_output=10e3,
        membrane=True,
        margin=1500.0,
    ),
    # EMM: lines ≥ 10 kt/yr, firms ≥ 30 kt/yr to enter; < 5 kt/yr to be eliminated (DF §3.2, B).
    # Wastewater ≈ 3.5 m³/t (DF §3.1, Derived from B). Dichromate passivation until 2013 (B): Cr present.
    Archetype(
        "emm",
        "manganese",
        "EMM plant",
        {"manganese_mine": 6, "xiangxiang": 1},
        output_median=12e3,
        output_sd=0.5,
        output_range=(6e3, 30e3),
        water=(3.0, 4.5),
        metals={"Mn": 1.0, "Cr6+": 1.0, "Cr": 1.0, "Cd": 0.7, "Pb": 0.7},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.4,
        backward_metals=("Mn", "Cr6+", "Cr"),
        metal_ratio={"Mn": 1.3},
        large_output=15e3,
        margin=800.0,
        retire_below=10e3,
    ),
    # manganese sulfate and other Mn compounds: 5–20 kt/yr, 2–4 m³/t (assumption, D).
    Archetype(
        "mn_compounds",
        "manganese",
        "manganese-compounds plant",
        {"manganese_mine": 4, "xiangxiang": 3, "other": 2},
        output_median=8e3,
        output_sd=0.5,
        output_range=(3e3, 20e3),
        water=(2.0, 4.0),
        metals={"Mn": 1.0, "Cd": 0.6, "Pb": 0.6},
        basic="GB8978",
        special="SPECIAL_PROXY",
        backward_share=0.3,
        backward_metals=("Mn",),
        margin=400.0,
        retire_below=6e3,
    ),
    # ---- zinc products (zinc oxide, zinc sulfate, zinc powder; Xiangxiang had lead-zinc firms phased out,
    # DF §6.2, B; two galvanizing-residue works near the steel mill, assumption). Qingshuitang-like
    # SMEs: Pb/As/Cd calibrated to DF §3.1. 2–20 kt/yr, 5–9 m³/t (assumption, D).
    Archetype(
        "zinc",
        "zinc",
        "zinc-products plant",
        {"yisuhe": 10, "xiangxiang": 9, "xianggang": 2, "other": 4},
        output_median=6e3,
        output_sd=0.6,
        output_range=(1.5e3, 25e3),
        water=(5.0, 9.0),
        metals={"Zn": 1.0, "Cd": 1.0, "Pb": 1.0, "As": 0.9, "Hg": 0.5},
        basic="GB25466_T2",
        special="GB25466_T3",
        backward_share=0.35,
        backward_metals=("As", "Cd"),
        metal_ratio=QINGSHUITANG_MIX,
        large_output=15e3,
        membrane=True,
        margin=600.0,
        retire_below=5e3,
        calibrate=True,
    ),
    # ---- electroplating shops: Shaodong's 22 firms average ~52,000 m²/yr and ~137 L/m² (DF §3.1, B
    # Derived); DF §9 suggests 50k–1M m²/yr and 100–500 L/m². Jiuhua (auto parts) and the high-tech
    # zone hold most; a few plate steel wire and fasteners near the steel mill (assumption).
    Archetype(
        "plating",
        "electroplating",
        "electroplating shop",
        {"jiuhua": 38, "hightech": 28, "other": 20, "xiangxiang": 8, "yisuhe": 8, "xianggang": 4, "shaoshan": 4},
        output_median=60e3,
        output_sd=0.7,
        output_range=(15e3, 800e3),
        water=(0.10, 0.30),
        metals={},  # drawn by plating type below
        basic="GB21900_T2",
        special="GB21900_T3",
        backward_share=0.2,
        line_names={
            "sulfide": ("stream segregation and chemical precipitation upgrade", "chelating polishing and filtration")
        },
        membrane=True,
        margin=3.0,
        retire_below=40e3,
    ),
)

#: Electroplating types (assumption): metals discharged, and the share of shops of that type. Hard
#: chrome uses lead alloy anodes (Pb); zinc plating passivates in chromate (Cr6+) and its anodes carry Cd.
PLATING_TYPES = (
    ("decorative Cu-Ni-Cr", 0.35, ("Cr6+", "Cr", "Ni", "Cu")),
    ("hard chrome", 0.15, ("Cr6+", "Cr", "Pb")),
    ("zinc with chromate passivation", 0.30, ("Zn", "Cr6+", "Cr", "Cd", "Pb")),
    ("nickel and copper", 0.15, ("Ni", "Cu", "Zn")),
    ("cadmium and mixed", 0.05, ("Cd", "Zn", "Cr6+", "Cr", "Ni")),
)


#: Profit margins, CNY per unit of output (all assumptions, grade D, except leather: the largest
#: Xiangxiang tannery's 2014 sales of 400 M yuan on ~0.3 M hides (DF §3.2, C) give ~1,330 yuan per
#: hide; an 8 % margin at 25 kg per hide is ~4,000 yuan/t). Set in the archetypes above and here.
STEEL_MARGIN = 150.0  # CNY/t crude steel, a thin 2015–2016 margin (assumption, D)

# --------------------------------------------------------------------------------------------------
# The integrated steel mill (湘钢 and surroundings): one synthetic plant
# --------------------------------------------------------------------------------------------------

#: ~10 Mt/yr (DF §3.2, D); we take 9 Mt/yr. Discharge 0.8 m³/t (DF §9.2 suggests 1–2 m³/t, D; a
#: modern mill reuses most water, assumption).
STEEL_OUTPUT = 9.0e6
STEEL_WATER = 0.8
#: The mill's metals come from a few streams (sinter and blast-furnace gas scrubbing: Pb, Zn, Cd, As;
#: cold rolling and coating: Cr6+, Cr, Ni) that carry about this share of its wastewater; polishing them
#: at the source costs this share of polishing the whole flow for the same kilograms (assumption, D).
STEEL_STREAM_SHARE = 0.25
#: Effluent concentrations, mg/L (assumption, D): well below the (D) GB 13456 Table 2 limits, above
#: its (D) special limits, as at a mill that meets the current standard. No Hg: a steel mill's Hg goes
#: to air (DF §1.2).
STEEL_CONC = {"Pb": 0.15, "Cd": 0.015, "As": 0.12, "Cr6+": 0.08, "Cr": 0.2, "Ni": 0.1, "Zn": 0.5, "Mn": 0.5}

# --------------------------------------------------------------------------------------------------
# Phase-out (淘汰落后产能)
# --------------------------------------------------------------------------------------------------

#: Zhubugang: 28 chemical firms closed by 2014-09-30 (DF §6.2, B). A few synthetic remnants (a line
#: of a pigment works, of a manganese-compounds plant and of an EMM plant awaiting final closure and
#: relocation) are kept with their last discharge and put on the phase-out list: they must close.
ZHUBUGANG_REMNANTS = (
    ("chemicals", "pigment", 2),
    ("manganese", "mn_compounds", 1),
    ("manganese", "emm", 1),
)
#: EMM plants below 5 kt/yr are to be eliminated (DF §3.2, B): this many small ones are added in the
#: manganese-mine zone and phased out.
SMALL_EMM_PHASE_OUT = 2
#: The Zhubugang remnants are single lines: their output and wastewater are this share of a whole
#: plant's, so that closures deliver a minority of each sector's cut (assumption: most of
#: Zhubugang's discharge was gone before 2016).
REMNANT_SCALE = 0.1

ZONE_CODES = {
    "zhubugang": "ZB",
    "manganese_mine": "MK",
    "yisuhe": "YS",
    "xianggang": "XG",
    "xiangxiang": "XX",
    "jiuhua": "JH",
    "hightech": "HT",
    "shaoshan": "SS",
    "other": "OT",
}
SECTOR_CODES = {"ferrous": "FERR", "chemicals": "CHEM", "manganese": "MN", "zinc": "ZN", "electroplating": "EP"}


# --------------------------------------------------------------------------------------------------
# The river: receptors on the Xiangjiang main stem and the tributaries that drain the key zones
# --------------------------------------------------------------------------------------------------

#: Metals with a receptor: the capped metals that GB 3838-2002 limits in classes II and III (DF §6.3, A).
#: Total Cr and Mn have no class II/III limit (Mn only as a drinking-water-source supplementary item).
RECEPTOR_METALS = ("Pb", "Cd", "Hg", "As", "Cr6+")
#: Background concentrations (mg/L). Main stem at 马家河: As 0.006 (2019 week 1, B); Cd below its
#: detection limit of 0.002 (B), taken as half of it; Pb 0.0015 as read at 坪塘 the same week (B; its
#: use at 马家河 is an assumption); Hg and Cr6+ not reported: half of typical detection limits
#: (0.00002 and 0.004 mg/L; assumption, D). Tributaries (assumption, D): below the main stem except Pb,
#: which the Lianshui carries from the Loudi–Xiangxiang mining and smelting belt.
BACKGROUND = {
    "xiangjiang": {"Pb": 0.0015, "Cd": 0.001, "Hg": 0.00001, "As": 0.006, "Cr6+": 0.002},
    "juanshui": {"Pb": 0.001, "Cd": 0.0005, "Hg": 0.00001, "As": 0.003, "Cr6+": 0.002},
    "lianshui": {"Pb": 0.002, "Cd": 0.001, "Hg": 0.00001, "As": 0.005, "Cr6+": 0.002},
}
#: First-order loss rates (1/day) on every reach: settling and sorption to sediment (assumption, D:
#: within the 0.05–0.5 /d usually fitted to heavy metals in rivers). Shallow tributaries settle faster;
#: As and Cr6+, mostly dissolved, slower.
DECAY = {"xiangjiang": 0.1, "juanshui": 0.2, "lianshui": 0.2}
METAL_DECAY = {"As": 0.05, "Cr6+": 0.05}
#: The chains, sections in downstream order. Flows (m³/s) are dry-season design flows, the lowest
#: monthly mean of 90 % guarantee (90%保证率最枯月平均流量), all assumptions (D):
#: - Xiangjiang at 马家河 350 m³/s, about a sixth of the ~2,000 m³/s mean at Xiangtan (D), the Changsha
#:   navigation and power hub holding the dry-season velocity near 0.25 m/s (assumption);
#: - Lianshui 涟水: 7,155 km², mean 138 m³/s (59baike, C); dry season 12 m³/s at Xiangxiang (≈ 9 % of the
#:   mean, regulated by the Shuifumiao reservoir; assumption), + 1 m³/s from the Shao river (韶河) below;
#: - Juanshui 涓水: about 1,760 km² (D) at a dry-season yield of ~1.4 L/s per km² less the Shaoshan
#:   irrigation canal's withdrawals (the canal connects to the Juanshui, C): 2.5 m³/s (assumption).
#: Section names: 马家河 and 坪塘 are the real boundary stations (DF §6.3, B); the Xiangtan reach is
#: ~45 km long (D). Every other position, distance and the class II intake are synthetic but plausible:
#: the Juanshui joins at Yisuhe and the Lianshui in Xiangtan city (C); 马家河 is the inflow boundary,
#: with no Xiangtan discharge above it, so it is not a receptor (no water class given).
RIVERS: dict[str, dict] = {
    "xiangjiang": {
        "name": "湘江 Xiangjiang main stem, Xiangtan reach",
        "sections": [
            {"id": "xj_majiahe", "name": "湘江 马家河 (Zhuzhou–Xiangtan boundary)", "flow": 350.0, "distance": 8},
            {"id": "xj_yisuhe", "name": "湘江 易俗河 (below the Juanshui)", "tributary": "juanshui", "distance": 6,
             "water_class": "III"},
            {"id": "xj_intake", "name": "湘江 湘潭城区取水口 (city drinking-water intake)", "distance": 5,
             "water_class": "II"},
            {"id": "xj_yuetang", "name": "湘江 岳塘 (Zhubugang - steel mill - Mn mine - city outfalls)", "distance": 6,
             "water_class": "III"},
            {"id": "xj_lianshui", "name": "湘江 涟水汇口 (below the Lianshui)", "tributary": "lianshui",
             "distance": 8, "water_class": "III"},
            {"id": "xj_jiuhua", "name": "湘江 九华 (Jiuhua outfalls)", "distance": 12, "water_class": "III"},
            {"id": "xj_pingtang", "name": "湘江 坪塘 (Xiangtan–Changsha boundary)", "water_class": "III"},
        ],
        "velocity": 0.25,
    },
    "juanshui": {
        "name": "涓水 Juanshui, lower reach",
        "joins": "xj_yisuhe",
        "sections": [
            {"id": "js_yisuhe", "name": "涓水 易俗河段 (Yisuhe outfalls)", "flow": 2.5, "distance": 3,
             "water_class": "III"},
            {"id": "js_mouth", "name": "涓水 涓水口 (mouth)", "water_class": "III"},
        ],
        "velocity": 0.2,
    },
    "lianshui": {
        "name": "涟水 Lianshui, Xiangxiang to the mouth",
        "joins": "xj_lianshui",
        "sections": [
            {"id": "ls_xiangxiang", "name": "涟水 湘乡 (Xiangxiang outfalls)", "flow": 12.0, "distance": 25,
             "water_class": "III"},
            {"id": "ls_shaohe", "name": "涟水 韶河口 (Shaoshan via the Shao river)", "tributary_flow": 1.0,
             "distance": 20, "water_class": "III"},
            {"id": "ls_mouth", "name": "涟水 河口 (mouth)", "water_class": "III"},
        ],
        "velocity": 0.3,
    },
}  # fmt: skip
#: Where each zone's outfalls are (assumption: one section per zone; the "other" firms are taken to
#: discharge in the city reach).
OUTFALLS = {
    "yisuhe": "js_yisuhe",
    "xiangxiang": "ls_xiangxiang",
    "shaoshan": "ls_shaohe",
    "zhubugang": "xj_yuetang",
    "manganese_mine": "xj_yuetang",
    "xianggang": "xj_yuetang",
    "hightech": "xj_yuetang",
    "other": "xj_yuetang",
    "jiuhua": "xj_jiuhua",
}


# --------------------------------------------------------------------------------------------------
# Building the firms
# --------------------------------------------------------------------------------------------------


@dataclass
class Firm:
    id: str
    name: str
    sector: str
    zone: str
    arch: Archetype | None
    output: float
    water: float  # m³/yr
    conc: dict[str, float]  # mg/L
    basic: dict[str, float]
    special: dict[str, float]
    backward: bool = False
    phase_out: bool = False
    plating_type: str = ""
    baseline: dict[str, float] = field(default_factory=dict)
    history: dict[str, float] = field(default_factory=dict)


def _lognormal(rng: np.random.Generator, median: float, sd: float, lo: float, hi: float) -> float:
    return float(np.clip(median * np.exp(sd * rng.standard_normal()), lo, hi))


def _draw_firm(
    rng: np.random.Generator, arch: Archetype, zone: str, *, phase_out: bool = False, output: float | None = None
) -> Firm:
    out = output if output is not None else _lognormal(rng, arch.output_median, arch.output_sd, *arch.output_range)
    water = out * float(rng.uniform(*arch.water))
    plating_type = ""
    if arch.sector == "electroplating":
        shares = np.array([t[1] for t in PLATING_TYPES])
        k = int(rng.choice(len(PLATING_TYPES), p=shares / shares.sum()))
        plating_type, metals = PLATING_TYPES[k][0], PLATING_TYPES[k][2]
    else:
        metals = tuple(m for m, p in arch.metals.items() if p >= 1.0 or rng.uniform() < p)
    backward = bool(rng.uniform() < arch.backward_share)
    ok_ratio = _lognormal(rng, COMPLIANT_RATIO[0], COMPLIANT_RATIO[1], *COMPLIANT_RATIO[2])
    bad_ratio = _lognormal(rng, BACKWARD_RATIO[0], BACKWARD_RATIO[1], *BACKWARD_RATIO[2])
    basic, special = LIMITS[arch.basic], LIMITS[arch.special]
    conc = {}
    for m in metals:
        exceeds = backward and (not arch.backward_metals or m in arch.backward_metals)
        ratio = (bad_ratio if exceeds else ok_ratio) * arch.metal_ratio.get(m, 1.0)
        ratio *= float(np.exp(METAL_RATIO_SD * rng.standard_normal()))
        conc[m] = basic[m] * (ratio if exceeds else min(ratio, COMPLIANT_MAX))
    if "Cr6+" in conc and "Cr" in conc:  # total chromium includes the hexavalent part
        conc["Cr"] = max(conc["Cr"], conc["Cr6+"])
    return Firm("", "", arch.sector, zone, arch, out, water, conc, basic, special, backward, phase_out, plating_type)


def _steel_mill() -> Firm:
    water = STEEL_OUTPUT * STEEL_WATER
    return Firm(
        "",
        "integrated steel mill",
        "ferrous",
        "xianggang",
        None,
        STEEL_OUTPUT,
        water,
        dict(STEEL_CONC),
        LIMITS["GB13456_T2"],
        LIMITS["GB13456_T3"],
    )


def _calibrate(firms: list[Firm]) -> dict[str, float]:
    """Scale the wastewater of the calibrated archetypes so that their mean Pb, As and Cd discharges
    match the Qingshuitang SME averages as closely as one factor can (the geometric mean of the three
    metals' ratios), keeping every concentration tied to its discharge limit.

    Returns the three metals' ratios (target / mean before scaling) and the factor applied.
    """
    group = [f for f in firms if f.arch is not None and f.arch.calibrate and not f.phase_out]
    ratios = {}
    for m, target in QINGSHUITANG_MEAN.items():
        mean = np.mean([f.water * f.conc.get(m, 0.0) / 1000 for f in group])
        ratios[m] = target / mean
    factor = float(np.exp(np.mean(np.log(list(ratios.values())))))
    for f in group:
        f.water *= factor
    return {**ratios, "water factor": factor}


def build_firms(rng: np.random.Generator) -> tuple[list[Firm], dict[str, float]]:
    firms: list[Firm] = [_steel_mill()]
    arch_by_key = {a.key: a for a in ARCHETYPES}
    for arch in ARCHETYPES:
        for zone, n in arch.zones.items():
            firms.extend(_draw_firm(rng, arch, zone) for _ in range(n))
    for _sector, key, n in ZHUBUGANG_REMNANTS:
        arch = arch_by_key[key]
        for _ in range(n):
            f = _draw_firm(rng, arch, "zhubugang", phase_out=True)
            f.water *= REMNANT_SCALE
            f.output *= REMNANT_SCALE
            f.name = f"{arch.label} (remnant line)"
            firms.append(f)
    emm = arch_by_key["emm"]
    for _ in range(SMALL_EMM_PHASE_OUT):
        f = _draw_firm(rng, emm, "manganese_mine", phase_out=True, output=float(rng.uniform(2e3, 4.5e3)))
        f.name = f"{emm.label} (below 5 kt/yr)"
        firms.append(f)
    factors = _calibrate(firms)
    for f in firms:  # backward = above the basic limit in some metal, whatever the draw said
        f.backward = any(c > f.basic[m] for m, c in f.conc.items())
    # ids: zone code - sector code - number within (zone, sector), in a stable order
    counters: dict[tuple[str, str], int] = {}
    for f in firms:
        key = (f.zone, f.sector)
        counters[key] = counters.get(key, 0) + 1
        f.id = f"{ZONE_CODES[f.zone]}-{SECTOR_CODES[f.sector]}-{counters[key]:03d}"
        what = f.name or (f.arch.label if f.arch else f.sector)
        if f.plating_type:
            what = f"{what} ({f.plating_type})"
        f.name = f"Synthetic {what} {f.id}"
        f.baseline = {m: f.water * c / 1000.0 for m, c in f.conc.items()}
        drift = np.clip(np.exp(HISTORY_LOG_MEAN + HISTORY_LOG_SD * rng.standard_normal(len(POLLUTANTS))), *HISTORY_CLIP)
        f.history = {m: f.baseline[m] * float(drift[POLLUTANTS.index(m)]) for m in f.baseline}
    return firms, factors


# --------------------------------------------------------------------------------------------------
# Abatement menus
# --------------------------------------------------------------------------------------------------


def _capex_fixed(rng: np.random.Generator, water: float, per_m3d: tuple[float, float]) -> float:
    """Annualised capex (CNY/yr) of a plant sized for ``water`` m³/yr."""
    return water / OPERATING_DAYS * float(rng.uniform(*per_m3d)) * CRF


def _capped(f: Firm, m: str) -> bool:
    return m in CAP_PATH or (m in CAP_PATH_SECTOR_ONLY and CAP_PATH_SECTOR_ONLY[m][0] == f.sector)


def build_menu(f: Firm, rng: np.random.Generator) -> list[dict]:
    """The abatement options of one firm (rows of abatement.csv).

    Per treatment line that treats a capped metal of the firm: a stage-1 upgrade if the firm exceeds
    (a fraction ``STAGE1_TARGET`` of) a limit in that line, then polishing as one technology (small
    firms) or metal-specific steps (large plants). Removal shares are increments on the baseline.
    """
    rows: list[dict] = []
    if f.phase_out:
        return rows  # closes anyway (forced by the phase-out list)
    arch = f.arch
    big_water = f.water >= CAPEX_MIN_WASTEWATER
    large = arch is None or f.output >= arch.large_output
    names = arch.line_names if arch else {}

    def tech(name: str, removal: dict[str, float], cost: float, fixed: float = 0.0, requires: str | None = None):
        """Add a technology row; return its name, or None if it removes nothing worth a row."""
        removal = {m: r for m, r in removal.items() if r > 5e-4}
        if not removal:
            return None
        row = {"kind": "technology", "name": name, "removal": removal, "cost": cost, "fixed_cost": fixed}
        if requires is not None:
            row["requires"] = requires
        rows.append(row)
        return name

    c1 = dict(f.conc)  # concentration after stage 1
    c2 = {}  # after stage 2
    first_polish = None  # the polishing technology that membrane reuse builds on
    for line, spec in TREATMENT_LINES.items():
        mine = [m for m in spec["metals"] if m in f.conc]
        if not any(_capped(f, m) for m in mine):
            continue
        stage1, stage2 = names.get(line, (spec["stage1"], spec["stage2"]))
        has_stage1 = None
        # stage 1: up to the basic standard, where the firm exceeds it in this line
        if any(f.conc[m] > f.basic[m] for m in mine):
            co = float(rng.uniform(*STAGE1_CO_REMOVAL))
            r1 = {}
            for m in mine:
                target = STAGE1_TARGET * f.basic[m]
                r1[m] = 1.0 - target / f.conc[m] if f.conc[m] > target else co
                c1[m] = f.conc[m] * (1.0 - r1[m])
            fixed = _capex_fixed(rng, f.water, CAPEX_UPGRADE_PER_M3D) if big_water else 0.0
            has_stage1 = tech(stage1, r1, f.water * float(rng.uniform(*spec["cost1"])), fixed)
        # stage 2: polishing to the special limit (and at least POLISH_MIN of what is left)
        for m in mine:
            c2[m] = min(f.special[m], (1.0 - POLISH_MIN) * c1[m])
        if large:
            for m in mine:
                if not _capped(f, m):
                    continue
                gap = c1[m] - c2[m]  # g/m³
                per_kg = STEP_COST_PER_M3[m] * float(rng.uniform(0.7, 1.3)) / (gap / 1000.0)
                if arch is None:
                    per_kg *= STEEL_STREAM_SHARE
                half = f.water * gap / 1000.0 / 2.0
                for factor in STEP_FACTORS:
                    rows.append({"kind": "step", "pollutant": m, "quantity": half, "cost": per_kg * factor})
        else:
            r2 = {m: (c1[m] - c2[m]) / f.conc[m] for m in mine}
            # polishing works on stage 1's effluent: where the firm has a stage-1 upgrade, it requires it
            added = tech(stage2, r2, f.water * float(rng.uniform(*spec["cost2"])), requires=has_stage1)
            first_polish = first_polish or added
    # stage 3: membrane reuse on what polishing leaves
    if (f.arch is None or f.arch.membrane) and f.water >= MEMBRANE_MIN_WASTEWATER:
        r3 = {m: MEMBRANE_REMOVAL * c2.get(m, c1[m]) / f.conc[m] for m in f.conc}
        tech(
            "membrane reuse (UF and RO)",
            r3,
            f.water * float(rng.uniform(*MEMBRANE_COST_PER_M3)),
            _capex_fixed(rng, f.water, CAPEX_MEMBRANE_PER_M3D),
            requires=first_polish,  # it treats polishing's effluent (one prerequisite: the first line's)
        )
    rows.extend(_process_changes(f, rng))
    # output cut (限产) at the margin; closure for small backward plants
    margin = STEEL_MARGIN if f.arch is None else arch.margin
    rows.append({"kind": "output_cut", "margin": margin * float(rng.uniform(0.8, 1.2))})
    if f.arch is not None and f.backward and f.output < arch.retire_below:
        cleanup = float(rng.uniform(*RETIRE_CLEANUP)) * CRF
        rows.append({"kind": "retire", "cost": margin * f.output * (1 - RETIRE_FIXED_SAVED) + cleanup})
    if f.water < LUMPY_MIN_WASTEWATER:  # modular equipment: the investment scales with the share adopted
        for row in rows:
            if row.get("fixed_cost", 0.0) > 0:
                row["cost"] += row["fixed_cost"]
                row["fixed_cost"] = 0.0
    return rows


#: EMM clean production (closed-loop rinsing) at a 30 kt/yr plant: −20,000 t/yr wastewater, 60 t Mn
#: and 17 t K₂Cr₂O₇ recovered, > 1 M yuan/yr of materials saved plus ~6 M yuan/yr of labour from
#: automated stripping (DF §4.2, B). We count the materials only (1.2 M yuan/yr at 30 kt, scaled by
#: output): the labour saving belongs to an automation investment that is not modelled. That makes the
#: running cost negative. The closed-loop investment is not sourced (assumption, D: 8 M yuan at 30 kt,
#: scaling with output^0.6, annualised). Removal: the wastewater cut (~19 % of 3.5 m³/t × 30 kt,
#: Derived) for all metals, and more for Cr with the dichromate recovered (assumption).
EMM_CP_REFERENCE_OUTPUT = 30e3
EMM_CP_MATERIAL_SAVING = 1.2e6
EMM_CP_CAPEX = 8.0e6
EMM_CP_CAPEX_EXPONENT = 0.6
EMM_CP_REMOVAL = {"Mn": 0.19, "Cd": 0.19, "Pb": 0.19, "Cr6+": 0.35, "Cr": 0.30}
#: Tannery chrome-liquor recycling: chrome powder use 40.8 kg per t of fur (102 kg per 2,500 kg, DF §3.1,
#: B); recycling saves ~15 % of it (assumption) at 8,000 CNY/t of chrome powder (assumption, D), and cuts
#: the Cr reaching the treatment plant so that effluent Cr falls by ~20 % (assumption). Investment
#: 1.2–2.5 M yuan (assumption), annualised.
CHROME_POWDER_PER_T = 0.0408
CHROME_SAVED_SHARE = 0.15
CHROME_PRICE = 8000.0
CHROME_RECYCLING_REMOVAL = {"Cr": 0.20, "Cr6+": 0.05}
CHROME_RECYCLING_CAPEX = (1.2e6, 2.5e6)
#: Steel mill: No.3 blast-furnace dust and water-treatment retrofit (a 2015 key project, DF §6.2, B).
#: Costs and removals are assumptions (D): sinter/BF scrubbing water carries Pb, Zn, Cd, As.
STEEL_BF_RETROFIT = {"removal": {"Pb": 0.25, "Zn": 0.30, "Cd": 0.30, "As": 0.10}, "cost": 1.0e6, "capex": 12.0e6}
#: Steel mill: cold-rolling wastewater Cr6+ reduction upgrade (assumption, D).
STEEL_COLD_ROLLING = {"removal": {"Cr6+": 0.40, "Cr": 0.25, "Ni": 0.25}, "cost": 1.5e6}


def _process_changes(f: Firm, rng: np.random.Generator) -> list[dict]:
    rows = []
    key = f.arch.key if f.arch else "steel"
    if key == "emm":
        scale = f.output / EMM_CP_REFERENCE_OUTPUT
        saving = EMM_CP_MATERIAL_SAVING * scale
        capex = EMM_CP_CAPEX * scale**EMM_CP_CAPEX_EXPONENT * float(rng.uniform(0.8, 1.2))
        removal = {m: r for m, r in EMM_CP_REMOVAL.items() if m in f.conc}
        rows.append(
            {
                "kind": "technology",
                "name": "EMM clean production (closed-loop rinsing)",
                "removal": removal,
                "cost": -saving,
                "fixed_cost": capex * CRF,
            }
        )
    elif key == "tannery":
        saving = f.output * CHROME_POWDER_PER_T * CHROME_SAVED_SHARE * CHROME_PRICE
        removal = {m: r for m, r in CHROME_RECYCLING_REMOVAL.items() if m in f.conc}
        rows.append(
            {
                "kind": "technology",
                "name": "chrome-liquor recycling",
                "removal": removal,
                "cost": -saving,
                "fixed_cost": float(rng.uniform(*CHROME_RECYCLING_CAPEX)) * CRF,
            }
        )
    elif key == "steel":
        bf = STEEL_BF_RETROFIT
        rows.append(
            {
                "kind": "technology",
                "name": "No.3 blast-furnace dust and water-treatment retrofit",
                "removal": bf["removal"],
                "cost": bf["cost"],
                "fixed_cost": bf["capex"] * CRF,
            }
        )
        cr = STEEL_COLD_ROLLING
        rows.append(
            {
                "kind": "technology",
                "name": "cold-rolling Cr6+ reduction upgrade",
                "removal": cr["removal"],
                "cost": cr["cost"],
            }
        )
    return rows


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------

SIG = 5  # significant digits written


def fmt(x: float | None, sig: int = SIG) -> str:
    """A number with ``sig`` significant digits, positional (no exponent), no trailing zeros."""
    if x is None:
        return ""
    if x == 0:
        return "0"
    digits = sig - 1 - int(np.floor(np.log10(abs(x))))
    s = np.format_float_positional(round(x, digits), trim="-")
    return s


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    for line in lines:
        assert ";" not in line and "\t" not in line and '"' not in line, line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_enterprises(firms: list[Firm], path: Path) -> None:
    header = ["id", "name", "sector", "zone", "output"]
    header += [f"baseline_{m}" for m in POLLUTANTS] + [f"history_{m}" for m in POLLUTANTS]
    header += ["info_wastewater_m3", "info_backward"]  # notes for readers (info_*: not modelled)
    rows = []
    for f in firms:
        row = [f.id, f.name, f.sector, f.zone, fmt(f.output, 4)]
        row += [fmt(f.baseline[m], 4) if m in f.baseline else "" for m in POLLUTANTS]
        row += [fmt(f.history[m], 4) if m in f.history else "" for m in POLLUTANTS]
        row += [fmt(f.water, 4), "true" if f.backward and not f.phase_out else "false"]
        rows.append(row)
    write_csv(path, header, rows)


def write_abatement(menus: list[tuple[Firm, list[dict]]], path: Path) -> int:
    header = ["enterprise", "kind", "name", "requires", "pollutant", "quantity", "cost", "fixed_cost", "margin"]
    header += [f"removal_{m}" for m in POLLUTANTS]
    rows = []
    for f, menu in menus:
        for o in menu:
            removal = o.get("removal", {})
            row = [
                f.id,
                o["kind"],
                o.get("name", ""),
                o.get("requires", ""),
                o.get("pollutant", ""),
                fmt(o.get("quantity")),
                fmt(o.get("cost")),
                fmt(o.get("fixed_cost") or None),
                fmt(o.get("margin")),
            ]
            row += [fmt(round(removal[m], 4)) if m in removal else "" for m in POLLUTANTS]
            rows.append(row)
    write_csv(path, header, rows)
    return len(rows)


def _cap_path(m: str, sector: str) -> tuple[float, ...] | None:
    if m in CAP_PATH:
        return CAP_PATH[m]
    if m in CAP_PATH_SECTOR_ONLY and CAP_PATH_SECTOR_ONLY[m][0] == sector:
        return CAP_PATH_SECTOR_ONLY[m][1]
    return None


def cap_rows(firms: list[Firm]) -> list[dict]:
    """One cap per sector, capped metal the sector discharges, and period.

    ``reduction`` is the share of the sector's 2016 baseline cut: the trajectory of ``CAP_PATH``, plus
    ``RESERVE_SHARE`` for the reserve's metals (the reserve is carved out of the sector caps).
    """
    caps = []
    metals = list(CAP_PATH) + list(CAP_PATH_SECTOR_ONLY)
    for t, period in enumerate(PERIODS):
        for m in metals:
            for s in SECTOR_CODES:
                path = _cap_path(m, s)
                if path is None or not any(f.sector == s and f.baseline.get(m, 0) > 0 for f in firms):
                    continue
                r = path[t] + (RESERVE_SHARE if m in RESERVE_PRICE else 0.0)
                caps.append({"id": f"{s}-{m}-{period}", "pollutant": m, "sector": s, "period": period, "reduction": r})
    return caps


def write_caps(caps: list[dict], path: Path) -> None:
    write_csv(
        path,
        ["id", "pollutant", "sector", "period", "reduction"],
        [[c["id"], c["pollutant"], c["sector"], c["period"], fmt(round(c["reduction"], 6))] for c in caps],
    )


def reserve_quantity(firms: list[Firm]) -> dict[str, float]:
    """The reserve per period, kg/yr: RESERVE_SHARE of the city's 2016 baseline of each reserve metal."""
    return {m: RESERVE_SHARE * sum(f.baseline.get(m, 0.0) for f in firms) for m in RESERVE_PRICE}


def kg_per_day(firms: list[Firm]) -> dict[str, float]:
    """Excess that counts as one day of violation, per capped metal (kg/day; see DAILY_FINE).

    A firm that has used up its annual quota and keeps operating discharges its daily load beyond the
    quota on each further day: one day of violation adds its daily discharge (baseline / OPERATING_DAYS)
    of excess. emtrade takes one kg_per_day per metal: the discharge-weighted mean daily discharge of the
    enterprises whose discharge of the metal is capped, Σb² / Σb / OPERATING_DAYS (the daily load of the
    firm an average kg comes from; assumption).
    """
    out = {}
    for m in list(CAP_PATH) + list(CAP_PATH_SECTOR_ONLY):
        b = np.array([f.baseline[m] for f in firms if m in f.baseline and _capped(f, m)])
        out[m] = float((b**2).sum() / b.sum() / OPERATING_DAYS)
    return out


def limit_rows(firms: list[Firm]) -> list[dict]:
    """一厂一策: each backward firm's discharge of each capped metal above its basic standard is limited,
    from LIMIT_FROM on, to its wastewater × the basic limit (kg/yr). Uncapped metals (Zn, Ni, Cu; Mn
    outside the manganese sector) have no permits that could override a standard, and no abatement
    options of their own in the menus, so they get no limit."""
    rows = []
    for f in firms:
        if f.phase_out or not f.backward:
            continue
        for m in POLLUTANTS:
            if m in f.conc and f.conc[m] > f.basic[m] and _capped(f, m):
                rows.append({"enterprise": f.id, "pollutant": m, "limit": f.water * f.basic[m] / 1000.0})
    return rows


def write_limits(rows: list[dict], path: Path) -> None:
    write_csv(
        path,
        ["enterprise", "pollutant", "limit", "from"],
        [[r["enterprise"], r["pollutant"], fmt(r["limit"], 4), LIMIT_FROM] for r in rows],
    )


def build_rivers() -> dict:
    """Each chain as an ``emtrade.river.River``: the tributaries first, then the main stem with their
    flow and background joining at the confluences."""
    from emtrade.river import load_river

    built = {}
    for key in ("juanshui", "lianshui", "xiangjiang"):
        spec = RIVERS[key]
        sections = []
        for i, sec in enumerate(spec["sections"]):
            row = {k: v for k, v in sec.items() if k != "tributary"}
            if "distance" in row:
                row["velocity"] = spec["velocity"]
            row["decay"] = DECAY[key]
            row["metal_decay"] = dict(METAL_DECAY)
            if i == 0:
                row["background"] = dict(BACKGROUND[key])
            if "tributary_flow" in row:
                row["tributary_background"] = dict(BACKGROUND[key])
            if "tributary" in sec:
                trib = built[sec["tributary"]]
                row["tributary_flow"] = float(trib.flow[-1])
                row["tributary_background"] = {m: float(trib.background(m)[-1]) for m in RECEPTOR_METALS}
            sections.append(row)
        built[key] = load_river({"name": spec["name"], "sections": sections})
    return {key: built[key] for key in RIVERS}  # main stem first


def river_tables(rivers: dict) -> tuple[list[dict], list[dict]]:
    """Receptors (section × metal, limit in kg/yr) and zone transfer coefficients (kg/yr arriving per
    kg/yr discharged) for every chain.

    A zone on a tributary reaches the tributary's sections below its outfall with the attenuation A of
    that chain, and a main-stem section D below the confluence c with A_trib[mouth, outfall] × A_main[D, c]
    (the decay along the tributary, then along the main stem). Limit: (GB 3838 class limit − background)
    × 31,557.6 × design flow (emtrade.river's load basis).
    """
    receptors, transfer = [], []
    where = {}  # section id -> (chain, index)
    for key, river in rivers.items():
        for i, sid in enumerate(river.ids):
            where[sid] = (key, i)
        details = river.receptor_details(RECEPTOR_METALS)
        for r in details.itertuples():
            name = RIVERS[key]["sections"][river.ids.index(r.section)]["name"]
            receptors.append(
                {
                    "id": r.id,
                    "pollutant": r.pollutant,
                    "limit": r.limit,
                    "name": f"{name}: {r.pollutant} class {r.water_class}",
                    "river": key,
                    "section": r.section,
                    "water_class": r.water_class,
                    "flow": r.flow,
                    "class_limit": r.class_limit,
                    "background": r.background,
                }
            )
    main = rivers["xiangjiang"]
    for zone, sid in OUTFALLS.items():
        key, s = where[sid]
        for rec in receptors:
            m = rec["pollutant"]
            rkey, d = where[rec["section"]]
            if rkey == key and d >= s:
                coef = rivers[key].attenuation(m)[d, s]
            elif rkey == "xiangjiang" and key != "xiangjiang":
                c = main.ids.index(RIVERS[key]["joins"])
                if d < c:
                    continue
                coef = rivers[key].attenuation(m)[-1, s] * main.attenuation(m)[d, c]
            else:
                continue
            transfer.append({"zone": zone, "receptor": rec["id"], "coefficient": float(coef)})
    return receptors, transfer


def write_receptors(receptors: list[dict], path: Path) -> None:
    # section, water class, design flow and background let emtrade report concentrations (mg/L) against
    # the GB 3838 limit of the class; the class limit itself is written as a note for readers
    header = ["id", "pollutant", "limit", "name", "info_river", "section", "water_class"]
    header += ["flow", "info_class_limit_mg_l", "background"]
    rows = [
        [
            r["id"],
            r["pollutant"],
            fmt(r["limit"]),
            r["name"],
            r["river"],
            r["section"],
            r["water_class"],
            fmt(r["flow"]),
            fmt(r["class_limit"]),
            fmt(r["background"], 4),
        ]
        for r in receptors
    ]
    write_csv(path, header, rows)


def write_transfer(transfer: list[dict], path: Path) -> None:
    write_csv(
        path,
        ["zone", "receptor", "coefficient"],
        [[t["zone"], t["receptor"], fmt(t["coefficient"])] for t in transfer],
    )


def write_zones(path: Path) -> None:
    from emtrade.registry import ZONES

    rows = [[z.id, z.name_en, z.name_zh, "true" if z.key else "false", fmt(z.x), fmt(z.y)] for z in ZONES.values()]
    write_csv(path, ["id", "name", "name_zh", "key", "x", "y"], rows)


SCENARIO_YAML = """\
# Generated by generate.py (do not edit by hand: change generate.py and run it again).
# Data, sources and assumptions: docs/data.md.
name: Xiangtan heavy-metal sectors 2016-2020 (synthetic enterprises)
description: >
  {n} synthetic enterprises of the five heavy-metal sectors named in Xiangtan's environmental work
  conference speech (ferrous smelting; chemicals, pigments and leather; manganese products; zinc
  products; electroplating), placed in the speech's key zones (Zhubugang, the manganese-mine zone,
  Yisuhe, Xiangtan Iron & Steel and surroundings, Xiangxiang) and elsewhere, over 2016-2020. Sector
  caps per metal and year: Pb and Cd -6 % in 2016 and -12 % in 2017 (the city's 2015-2017 plan), then
  -18/-24/-30 %; As, Hg, Cr6+, Cr (and Mn in the manganese sector) -2 % a year to -10 % in 2020.
  Permits are grandfathered on 2014 discharges with Zhuzhou's paid-use fees, traded within each
  sector and banked; a government reserve sells Pb, Cd and As at Zhuzhou's prices; no net inflow
  into the key zones; backward firms must meet their discharge standard from 2017 (one plant, one
  plan); discharge beyond permits is fined daily. Receptors on the Xiangjiang main stem and on the
  Lianshui and Juanshui hold the GB 3838 class II/III limits at dry-season flows. Zhubugang remnants
  and EMM plants under 5 kt/yr are phased out. No enterprise is real: sizes, discharges and costs are
  drawn from the sourced figures and stated assumptions of docs/data.md. Discharges kg/yr, money
  CNY/yr, prices CNY/kg.
pollutants: [{pollutants}]
periods: [{periods}]
enterprises: enterprises.csv
abatement: abatement.csv
caps: caps.csv
zones: zones.csv
limits: limits.csv
receptors: receptors.csv
transfer: transfer.csv
allocation: {{method: grandfathering, fee: {{{fee}}}}}
trading:
  scope: sector
  banking: true
  reserve: {{price: {{{reserve_price}}}, quantity: {{{reserve_quantity}}}}}
  no_net_inflow: [{key_zones}]
discount_rate: {discount_rate}
enforcement: {{daily_fine: {daily_fine}, kg_per_day: {{{kg_per_day}}}}}
phase_out: [{phase_out}]
"""


def _mapping(values: dict[str, float], sig: int = 4) -> str:
    return ", ".join(f"{m}: {fmt(v, sig)}" for m, v in values.items())


def scenario_yaml(firms: list[Firm]) -> str:
    return SCENARIO_YAML.format(
        n=len(firms),
        pollutants=", ".join(POLLUTANTS),
        periods=", ".join(PERIODS),
        fee=_mapping(ALLOCATION_FEE),
        reserve_price=_mapping(RESERVE_PRICE),
        reserve_quantity=_mapping(reserve_quantity(firms)),
        key_zones=", ".join(KEY_ZONES),
        discount_rate=fmt(DISCOUNT_RATE),
        daily_fine=fmt(DAILY_FINE),
        kg_per_day=_mapping(kg_per_day(firms)),
        phase_out=", ".join(f.id for f in firms if f.phase_out),
    )


def summarise(firms: list[Firm], menus, n_options: int, caps: list[dict], factors: dict[str, float], extra) -> str:
    limits, receptors, transfer = extra
    lines = [f"{len(firms)} enterprises, {n_options} abatement options, {len(caps)} caps (sector × metal × year)"]
    by_sector: dict[str, int] = {}
    for f in firms:
        by_sector[f.sector] = by_sector.get(f.sector, 0) + 1
    lines.append("enterprises per sector: " + ", ".join(f"{s} {n}" for s, n in by_sector.items()))
    lines.append(
        "backward (above the basic limit): "
        + str(sum(f.backward and not f.phase_out for f in firms))
        + f"; phase-out: {sum(f.phase_out for f in firms)}"
        + f"; firm limits from {LIMIT_FROM}: {len(limits)}"
    )
    lines.append(
        "baseline totals, kg/yr: "
        + ", ".join(f"{m} {sum(f.baseline.get(m, 0) for f in firms):,.1f}" for m in POLLUTANTS)
    )
    calibrated = [f for f in firms if f.arch is not None and f.arch.calibrate and not f.phase_out]
    lines.append(
        "Qingshuitang calibration (zinc + inorganic chemicals, mean kg/yr): "
        + ", ".join(f"{m} {np.mean([f.baseline.get(m, 0.0) for f in calibrated]):.1f}" for m in QINGSHUITANG_MEAN)
        + " (target/mean before scaling: "
        + ", ".join(f"{m} {v:.2f}" for m, v in factors.items())
        + ")"
    )
    binaries = sum(1 for _, menu in menus for o in menu if o["kind"] == "retire" or o.get("fixed_cost", 0) > 0)
    requires = sum(1 for _, menu in menus for o in menu if o.get("requires"))
    lines.append(f"binary decisions per period: {binaries} (fixed costs and retirements); prerequisites: {requires}")
    lines.append("reserve per period, kg/yr: " + _mapping(reserve_quantity(firms)))
    per_day = kg_per_day(firms)
    lines.append("daily-fine penalty, CNY/kg: " + ", ".join(f"{m} {DAILY_FINE / v:,.0f}" for m, v in per_day.items()))
    # baseline load at each receptor against its limit: where the river is tight
    zone_base: dict[tuple[str, str], float] = {}
    for f in firms:
        if f.phase_out:
            continue
        for m, b in f.baseline.items():
            zone_base[(f.zone, m)] = zone_base.get((f.zone, m), 0.0) + b
    load: dict[str, float] = {}
    for t in transfer:
        rec = next(r for r in receptors if r["id"] == t["receptor"])
        load[rec["id"]] = load.get(rec["id"], 0.0) + t["coefficient"] * zone_base.get((t["zone"], rec["pollutant"]), 0)
    tight = sorted(receptors, key=lambda r: -load.get(r["id"], 0.0) / r["limit"])[:5]
    lines.append(
        f"{len(receptors)} receptors; tightest at baseline (load / limit, kg/yr): "
        + "; ".join(f"{r['id']} {load.get(r['id'], 0.0):,.2f} / {r['limit']:,.2f}" for r in tight)
    )
    return "\n".join(lines)


def main(out: Path = HERE) -> None:
    rng = np.random.default_rng(SEED)
    firms, factors = build_firms(rng)
    menus = [(f, build_menu(f, rng)) for f in firms]
    caps = cap_rows(firms)
    limits = limit_rows(firms)
    receptors, transfer = river_tables(build_rivers())
    out.mkdir(parents=True, exist_ok=True)
    write_enterprises(firms, out / "enterprises.csv")
    n_options = write_abatement(menus, out / "abatement.csv")
    write_caps(caps, out / "caps.csv")
    write_zones(out / "zones.csv")
    write_limits(limits, out / "limits.csv")
    write_receptors(receptors, out / "receptors.csv")
    write_transfer(transfer, out / "transfer.csv")
    (out / "scenario.yaml").write_text(scenario_yaml(firms), encoding="utf-8")
    print(summarise(firms, menus, n_options, caps, factors, (limits, receptors, transfer)))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
