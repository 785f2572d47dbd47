"""What emtrade knows before it reads a scenario: sectors, metals, zones.

The five sectors are those the Xiangtan speech puts under sector-wide total discharge caps
(黑色金属冶炼、化工颜料皮革、锰制品、锌制品和电镀). The metals carry their water
pollution-equivalent values from Annex 2 of the Environmental Protection Tax Law (2016), identical
to the 2003 levy table:

    weight_p = 1 / pe_value_p      [pollution equivalents per kg]

so 1 kg of Hg is 2,000 PE and 1 kg of Pb is 40 PE. The GB 3838-2002 surface-water limits (mg/L) for
classes I–V are kept beside them for the receptor checks. Sources: docs/data.md.

This module imports nothing heavy: the CLI's ``--help`` and ``validate`` load it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Sector:
    """One of the five heavy-metal sectors of the speech."""

    id: str
    name_en: str
    name_zh: str
    #: the metals a firm of this sector typically discharges to water (domain-facts §1.2)
    metals: tuple[str, ...]

    def label(self, lang: str = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Metal:
    """A water-borne heavy metal with its pollution-equivalent value.

    ``pe_value_kg`` is the mass (kg) that makes one pollution equivalent (污染当量值);
    ``weight`` = 1 / pe_value_kg is pollution equivalents per kg.
    """

    id: str
    name_en: str
    name_zh: str
    pe_value_kg: float
    #: class-1 pollutant of GB 8978 (measured at the workshop outlet)
    class1: bool
    #: GB 3838-2002 limits in mg/L for classes I..V (None where the standard sets none)
    gb3838_mg_per_l: tuple[float | None, ...] = field(default=(None,) * 5)
    aliases: tuple[str, ...] = ()

    @property
    def weight(self) -> float:
        """Pollution equivalents per kg (Environmental Protection Tax Law, Annex 2)."""
        return 1.0 / self.pe_value_kg

    def label(self, lang: str = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Zone:
    """A named area of the city (the speech's key remediation zones and others)."""

    id: str
    name_en: str
    name_zh: str
    key: bool  # one of the five key areas of the speech (重点整治区域)
    #: schematic position for the map-like view (west→east, south→north), not geography
    x: float = 0.0
    y: float = 0.0

    def label(self, lang: str = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en


SECTORS: MappingProxyType[str, Sector] = MappingProxyType(
    {
        s.id: s
        for s in (
            Sector(
                "ferrous",
                "Ferrous metal smelting",
                "黑色金属冶炼",
                ("Pb", "Zn", "Cd", "As", "Cr6+", "Cr", "Ni", "Hg", "Mn"),
            ),
            Sector(
                "chemicals",
                "Chemicals, pigments and leather",
                "化工颜料皮革",
                ("Pb", "Cr6+", "Cr", "Cd", "Zn", "Hg", "As", "Mn", "Cu"),
            ),
            Sector("manganese", "Manganese products", "锰制品", ("Mn", "Cr6+", "Cr", "Cd", "Pb")),
            Sector("zinc", "Zinc products", "锌制品", ("Zn", "Cd", "Pb", "As", "Hg")),
            Sector("electroplating", "Electroplating", "电镀", ("Cr6+", "Cr", "Ni", "Cu", "Zn", "Cd", "Pb")),
        )
    }
)

_NA5 = (None,) * 5
METALS: MappingProxyType[str, Metal] = MappingProxyType(
    {
        m.id: m
        for m in (
            Metal(
                "Hg", "Mercury", "汞", 0.0005, True, (0.00005, 0.00005, 0.0001, 0.001, 0.001), ("mercury", "total Hg")
            ),
            Metal("Cd", "Cadmium", "镉", 0.005, True, (0.001, 0.005, 0.005, 0.005, 0.01), ("cadmium", "total Cd")),
            Metal(
                "Cr6+",
                "Hexavalent chromium",
                "六价铬",
                0.02,
                True,
                (0.01, 0.05, 0.05, 0.05, 0.1),
                ("Cr6", "CrVI", "Cr(VI)", "hexavalent chromium"),
            ),
            Metal("As", "Arsenic", "砷", 0.02, True, (0.05, 0.05, 0.05, 0.1, 0.1), ("arsenic", "total As")),
            Metal("Pb", "Lead", "铅", 0.025, True, (0.01, 0.01, 0.05, 0.05, 0.1), ("lead", "total Pb")),
            Metal("Ni", "Nickel", "镍", 0.025, True, _NA5, ("nickel", "total Ni")),
            Metal("Ag", "Silver", "银", 0.02, True, _NA5, ("silver",)),
            Metal("Be", "Beryllium", "铍", 0.01, True, _NA5, ("beryllium",)),
            Metal("Cr", "Total chromium", "总铬", 0.04, True, _NA5, ("total Cr", "TCr", "chromium")),
            Metal("Se", "Selenium", "硒", 0.02, False, _NA5, ("selenium",)),
            Metal("Cu", "Copper", "铜", 0.1, False, (0.01, 1.0, 1.0, 1.0, 1.0), ("copper",)),
            Metal("Zn", "Zinc", "锌", 0.2, False, (0.05, 1.0, 1.0, 2.0, 2.0), ("zinc",)),
            Metal("Mn", "Manganese", "锰", 0.2, False, (0.1, None, None, None, None), ("manganese",)),
        )
    }
)

ZONES: MappingProxyType[str, Zone] = MappingProxyType(
    {
        z.id: z
        for z in (
            Zone("zhubugang", "Zhubugang industrial zone", "竹埠港工业区", True, 0.2, 0.6),
            Zone("manganese_mine", "Manganese-mine industrial zone", "锰矿工业区", True, -0.6, 0.2),
            Zone("yisuhe", "Yisuhe industrial zone", "易俗河工业区", True, 0.5, -0.5),
            Zone("xianggang", "Xiangtan Iron & Steel and surroundings", "湘钢及周边地区", True, -0.1, 0.3),
            Zone("xiangxiang", "Xiangxiang industrial zone", "湘乡工业区", True, -1.0, -0.1),
            Zone("jiuhua", "Jiuhua economic development zone", "九华经开区", False, 0.0, 1.0),
            Zone("hightech", "Xiangtan high-tech zone", "湘潭高新区", False, 0.6, 0.2),
            Zone("shaoshan", "Shaoshan", "韶山", False, -0.8, 0.9),
            Zone("other", "Elsewhere in the city", "其他地区", False, 0.9, -0.9),
        )
    }
)

#: class names of GB 3838-2002 in order (I..V)
GB3838_CLASSES = ("I", "II", "III", "IV", "V")

_METAL_ALIASES = {a.lower(): m.id for m in METALS.values() for a in (m.id, *m.aliases)}


def metal_id(name: str) -> str | None:
    """The canonical metal id of ``name`` (an id or an alias, any case), or None."""
    return _METAL_ALIASES.get(str(name).strip().lower())


def pe_weight(metal: str) -> float:
    """Pollution equivalents per kg of ``metal`` (1 / pollution-equivalent value)."""
    return METALS[metal].weight


def sector_label(sector: str, lang: str = "en") -> str:
    s = SECTORS.get(sector)
    return s.label(lang) if s else sector


def zone_label(zone: str, lang: str = "en") -> str:
    z = ZONES.get(zone)
    return z.label(lang) if z else zone


def metal_label(metal: str, lang: str = "en") -> str:
    m = METALS.get(metal)
    return m.label(lang) if m else metal


def gb3838_limit(metal: str, water_class: str) -> float | None:
    """GB 3838-2002 limit (mg/L) of ``metal`` for ``water_class`` ('I'..'V'), or None if unset."""
    return METALS[metal].gb3838_mg_per_l[GB3838_CLASSES.index(water_class)]
