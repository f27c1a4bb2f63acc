"""The roles' argument specs: the one description of every setting."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Keys of an argument-spec option that describe it for people, not for validation.
_DOC_KEYS = ("description", "default", "version_added")


@dataclass(frozen=True)
class Setting:
    """One role variable as its role's meta/argument_specs.yml describes it."""

    name: str
    role: str
    spec: dict[str, Any] = field(hash=False)

    @property
    def type(self) -> str:
        return str(self.spec.get("type", "str"))

    @property
    def default(self) -> Any:
        return self.spec.get("default")

    def validation_spec(self) -> dict[str, Any]:
        """The option without its documentation keys, so that a missing value
        stays missing instead of being filled in with the documented default."""
        return {k: v for k, v in self.spec.items() if k not in _DOC_KEYS}


def roles(roles_dir: Path) -> list[Path]:
    return sorted(p for p in roles_dir.iterdir() if (p / "meta" / "argument_specs.yml").is_file())


# The entry point that holds a role's settings: `main` (Ansible validates it when
# the role runs), or `settings` for the kube role, whose settings every role
# shares and only the inventory check validates (see its argument_specs.yml).
ENTRY_POINTS = ("main", "settings")


def load_settings(roles_dir: Path) -> dict[str, Setting]:
    """Every option of every role's settings entry point, by variable name."""
    settings: dict[str, Setting] = {}
    for role in roles(roles_dir):
        data = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
        entry = next(data["argument_specs"][e] for e in ENTRY_POINTS if e in data["argument_specs"])
        options = entry.get("options") or {}
        for name, spec in options.items():
            settings[name] = Setting(name=name, role=role.name, spec=spec or {})
    return settings


def default_files(role: Path) -> Iterator[Path]:
    """A role's defaults: defaults/main.yml or every file in defaults/main/."""
    defaults = role / "defaults"
    if (defaults / "main.yml").is_file():
        yield defaults / "main.yml"
    elif (defaults / "main").is_dir():
        yield from sorted((defaults / "main").glob("*.yml"))


def load_defaults(roles_dir: Path) -> dict[str, dict[str, Any]]:
    """Each role's default values, by role name (templates left unrendered)."""
    result: dict[str, dict[str, Any]] = {}
    for role in roles(roles_dir):
        values: dict[str, Any] = {}
        for path in default_files(role):
            values.update(yaml.safe_load(path.read_text()) or {})
        result[role.name] = values
    return result
