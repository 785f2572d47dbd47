"""The documentation: generated reference pages match the code, the site builds strictly, pages agree with the code.

- ``docs/scenario-reference.md`` and ``docs/cli.md`` are generated (``python -m emtrade.docs_reference``)
  from the schema and the click commands; regenerating them must give the committed files, so a new
  scenario key or CLI option without documentation fails here. Every key must have a description.
- ``mkdocs build --strict`` passes: every page is in the nav, every link and anchor resolves.
- The getting-started page carries the README's two commands; the classic-results page names tests
  that exist; every public API object has a docstring with an example (run by ``--doctest-modules``).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

import emtrade
from emtrade import docs_reference

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _models() -> list[type[BaseModel]]:
    """Every pydantic model a scenario file can hold: the schema's, the uncertainty rows and the river's."""
    from emtrade import river
    from emtrade.scenario import schema

    seen: list[type[BaseModel]] = []

    def walk(model):
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for m in docs_reference._models_in(field.annotation):
                walk(m)

    walk(schema.ScenarioSpec)
    walk(river.RiverSpec)
    return seen


@pytest.mark.parametrize("page", sorted(docs_reference.PAGES))
def test_generated_reference_page_is_current(page):
    generated = docs_reference.generate(DOCS)[DOCS / page]
    committed = (DOCS / page).read_text(encoding="utf-8")
    assert committed == generated, f"docs/{page} is stale: run `python -m emtrade.docs_reference` and commit it"


def test_every_scenario_key_has_a_description_and_is_in_the_reference():
    page = (DOCS / "scenario-reference.md").read_text(encoding="utf-8")
    undocumented, missing = [], []
    for model in _models():
        for name, field in model.model_fields.items():
            kind, _ = docs_reference._strip(field.annotation)
            discriminator = typing.get_origin(kind) is typing.Literal and name == "kind"
            if not (field.description or "").strip() and not discriminator:
                undocumented.append(f"{model.__name__}.{name}")
            if f"| `{field.alias or name}` |" not in page:
                missing.append(f"{model.__name__}.{name}")
    assert undocumented == [], "give these schema fields a description (Field(description=...))"
    assert missing == []


def test_every_cli_command_and_option_is_in_the_reference():
    import click

    from emtrade.cli import main

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    ctx = click.Context(main, info_name="emtrade")
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert f"## emtrade {name}" in page
        assert (cmd.help or "").strip(), f"emtrade {name} has no help text"
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert f"`{param.opts[-1]}`" in page, (name, param.opts)
                assert (param.help or "").strip(), f"emtrade {name} {param.opts[-1]} has no help"


def test_mkdocs_builds_strictly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr + proc.stdout
    assert (tmp_path / "site" / "scenario-reference.html").is_file()


def test_every_docs_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                yield from pages(value)
            else:
                yield value

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(on_disk - in_nav) == [], "add these pages to the nav of mkdocs.yml"
    assert sorted(in_nav - on_disk) == []


def test_getting_started_has_the_readme_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(python3 -m venv[^\n]+)\n```", readme)
    assert len(commands) == 2
    for command in commands:
        assert command in page


def test_classic_results_name_tests_that_exist():
    page = (DOCS / "classic-results.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(test_\w+\.py)::(test_\w+)", page))
    assert len(named) >= 20
    gone = [f"{f}::{t}" for f, t in sorted(named) if f"def {t}(" not in (ROOT / "tests" / f).read_text("utf-8")]
    assert gone == []


def test_textbook_scenarios_are_all_in_the_classic_results():
    page = (DOCS / "classic-results.md").read_text(encoding="utf-8")
    textbook = [n for n in emtrade.bundled_scenarios() if n.startswith("textbook/")]
    assert textbook and [n for n in textbook if f"`{n}`" not in page] == []


@pytest.mark.parametrize("name", emtrade.__all__)
def test_public_api_has_a_docstring_with_an_example(name):
    obj = getattr(emtrade, name)
    assert not isinstance(obj, types.ModuleType), f"emtrade.{name} is a module, not the function"
    docs = [inspect.getdoc(obj) or ""]
    if inspect.isclass(obj):
        docs += [inspect.getdoc(m) or "" for n, m in vars(obj).items() if not n.startswith("_") and callable(m)]
        docs += [inspect.getdoc(m.__func__) or "" for m in vars(obj).values() if isinstance(m, classmethod)]
    assert docs[0].strip(), f"emtrade.{name} has no docstring"
    assert any(">>>" in d for d in docs), f"emtrade.{name}: add a short example that runs (doctest)"
