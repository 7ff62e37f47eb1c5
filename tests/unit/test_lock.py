"""requirements.lock pins what pyproject.toml asks for: a dependency added, dropped or narrowed
in pyproject.toml without `make lock` fails here, before a fresh clone installs something else."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKED_EXTRAS = ("test", "lock")
"""The extras the bootstrap installs; pyproject.toml's other extras are not locked."""
STALE = "requirements.lock disagrees with pyproject.toml: run `make lock`"


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in LOCKED_EXTRAS:
        declared += project["project"]["optional-dependencies"][extra]
    return [Requirement(text) for text in declared]


def _locked() -> dict[str, dict]:
    """Each pinned package's versions (one per marker split) and what asked for it."""
    pins: dict[str, dict] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            requirement = Requirement(line.rstrip(" \\"))
            (pinned,) = requirement.specifier
            assert pinned.operator == "==", f"{line!r} is not an exact pin"
            current = pins.setdefault(canonicalize_name(requirement.name), {"versions": [], "via": set()})
            current["versions"].append(Version(pinned.version))
        elif current is not None and line.strip().startswith("#"):
            current["via"].add(line.strip().lstrip("#").strip().removeprefix("via").strip())
    return pins


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in the lock; {STALE}"
        for version in pins[name]["versions"]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}=={version} does not satisfy {requirement}; {STALE}"
            )


def test_the_lock_pins_no_direct_dependency_pyproject_dropped():
    declared = {canonicalize_name(requirement.name) for requirement in _declared()}
    direct = {name for name, pin in _locked().items() if "alliance (pyproject.toml)" in pin["via"]}
    assert direct <= declared, f"{sorted(direct - declared)} no longer declared; {STALE}"


def test_every_pin_is_hashed():
    text = (ROOT / "requirements.lock").read_text()
    pinned = [line for line in text.splitlines() if "==" in line and not line.lstrip().startswith("#")]
    assert pinned and all(line.endswith("\\") for line in pinned), "every pin needs --hash lines"
