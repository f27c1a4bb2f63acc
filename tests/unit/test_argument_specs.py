"""The roles' argument specs are the one description of every setting."""

import re
from pathlib import Path

import pytest
import yaml

from kubesmith.preflight.specs import load_defaults, load_settings, roles

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
# Files whose Jinja reads settings (defaults too: one default may read another).
SOURCES = [
    p
    for p in sorted(ROLES.rglob("*")) + sorted((REPO / "playbooks").rglob("*.yml"))
    if p.suffix in (".yml", ".j2") and p.parent.name != "meta"
]


@pytest.mark.parametrize("role", [r.name for r in roles(ROLES)])
def test_every_default_has_an_argument_spec(role):
    defaults = load_defaults(ROLES)[role]
    settings = {n for n, s in load_settings(ROLES).items() if s.role == role}
    missing = sorted(set(defaults) - settings)
    assert not missing, f"roles/{role}: add these to meta/argument_specs.yml: {missing}"


def test_a_default_without_a_spec_is_caught(tmp_path):
    """Negative control: a role that gains a default without a spec entry is found."""
    role = tmp_path / "roles" / "extra"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults" / "main.yml").write_text("extra_new_knob: 1\nextra_old: 2\n")
    spec = {"argument_specs": {"main": {"options": {"extra_old": {"type": "int"}}}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    defaults = load_defaults(tmp_path / "roles")["extra"]
    settings = load_settings(tmp_path / "roles")
    assert set(defaults) - set(settings) == {"extra_new_knob"}


def test_literal_defaults_match_their_specs():
    """A spec's documented default is the value defaults/ really sets."""
    settings = load_settings(ROLES)
    for role, defaults in load_defaults(ROLES).items():
        for name, value in defaults.items():
            spec_default = settings[name].spec.get("default")
            if "default" not in settings[name].spec or "{{" in str(value):
                continue
            assert spec_default == value, f"roles/{role}: {name} defaults to {value!r}"


def test_every_setting_has_a_type_and_a_description():
    for name, setting in load_settings(ROLES).items():
        assert "type" in setting.spec, f"{name} ({setting.role}) has no type"
        assert setting.spec.get("description"), f"{name} ({setting.role}) has no description"


def _unguarded_reads(name: str, text: str) -> list[str]:
    """Jinja reads of a boolean setting not passed through `| bool`. `-e name=false`
    arrives as the string "false", which is true in Jinja and not a boolean for
    ansible-core's conditionals."""
    pattern = re.compile(
        rf"(?<![\w#]){re.escape(name)}\b(?!\s*:)(?!\s*\|\s*(ansible\.builtin\.)?bool\b)"
    )
    return [
        line.strip()
        for line in text.splitlines()
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]


def test_boolean_settings_are_read_through_bool():
    booleans = [n for n, s in load_settings(ROLES).items() if s.type == "bool"]
    offenders = {
        f"{path.relative_to(REPO)}: {line}"
        for path in SOURCES
        for name in booleans
        for line in _unguarded_reads(name, path.read_text())
    }
    assert not offenders, "\n".join(sorted(offenders))


def test_an_unguarded_boolean_read_is_caught():
    """Negative control for the scan above."""
    assert _unguarded_reads("x_enabled", "when: x_enabled\n") == ["when: x_enabled"]
    assert _unguarded_reads("x_enabled", "when: x_enabled | bool\nx_enabled: true\n") == []
