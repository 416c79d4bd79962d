"""The loader table in registry.py and the modules in typicality/data/sources/ agree."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import typicality.data.sources
from typicality.data.registry import BUILT_IN, LOADERS, LazyFunction, get_loader
from typicality.errors import TypicalityError

ROOT = Path(__file__).resolve().parents[2]
SOURCE_MODULES = [f"typicality.data.sources.{info.name}" for info in pkgutil.iter_modules(typicality.data.sources.__path__)]


def public_load_functions(module_name: str) -> set[str]:
    """`module:function` for each public `load_*` function the module defines (not ones it imports)."""
    module = importlib.import_module(module_name)
    return {
        f"{module_name}:{name}"
        for name, value in vars(module).items()
        if name.startswith("load_") and inspect.isfunction(value) and value.__module__ == module_name
    }


def test_every_table_entry_names_a_function_of_its_source_module():
    assert len(LOADERS) == len(BUILT_IN), "two table entries share a name"
    for spec in BUILT_IN:
        assert isinstance(spec.load, LazyFunction), f"{spec.name}: the table names its load function as 'module:function'"
        module_name = spec.load.target.partition(":")[0]
        assert module_name in SOURCE_MODULES, f"{spec.name}: {spec.load.target} is not in typicality/data/sources/"
        assert callable(spec.load.resolve()), spec.name


def test_every_source_module_and_load_function_is_in_the_table():
    targets = {spec.load.target for spec in BUILT_IN}
    for module_name in SOURCE_MODULES:
        functions = public_load_functions(module_name)
        assert functions, f"{module_name} defines no load_* function; add one and its entry in registry.py"
        missing = sorted(functions - targets)
        assert not missing, f"{', '.join(missing)} have no entry in the table in typicality/data/registry.py"


def test_the_sources_constants_match_the_table():
    # The load functions read these themselves; the table repeats them for listing and checking.
    for spec in BUILT_IN:
        module = importlib.import_module(spec.load.target.partition(":")[0])
        if hasattr(module, "HUB_ID"):
            assert module.HUB_ID == spec.hub_id, spec.name
        if hasattr(module, "RATINGS"):
            assert tuple(module.RATINGS) == spec.ratings, spec.name
        if hasattr(module, "SUBSETS"):
            assert tuple(module.SUBSETS) == spec.subsets, spec.name
        if hasattr(module, "HUB_IDS"):  # one hub dataset per subset: the table names the default subset's
            assert module.HUB_IDS[spec.default_subset] == spec.hub_id, spec.name


def test_a_target_that_cannot_be_imported_is_one_clear_error():
    with pytest.raises(TypicalityError, match="typicality.data.sources.hh_rlhf:load_nothing cannot be imported"):
        LazyFunction("typicality.data.sources.hh_rlhf:load_nothing")(None)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(TypicalityError, match="Unknown dataset 'hh_rlhf'. Known datasets: arena-human-preference, chatbot-arena, .*, ultrafeedback-binarized."):
        get_loader("hh_rlhf")


def test_listing_and_checking_loaders_imports_no_source_module():
    code = (
        "import json, sys\n"
        "from typicality.data import LoadRequest, all_loaders\n"
        "all_loaders()\n"
        "LoadRequest('shp', subset='askdocs').preflight()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'datasets' or m.startswith('typicality.data.sources.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_readme_datasets_table_has_a_row_for_every_loader():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Datasets\n", 1)[1]
    rows = section.strip().split("\n\n", 1)[0].splitlines()[2:]  # the table, less header and |---|
    named = set()
    for row in rows:
        named.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    assert named == set(LOADERS)
