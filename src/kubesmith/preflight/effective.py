"""One host's effective settings: its inventory and extra vars over the roles'
defaults, rendered in that host's context and typed by the argument specs."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubesmith.preflight import specs
from kubesmith.preflight.specs import Setting
from kubesmith.preflight.types import check_types

Render = Callable[[Any], Any]


def effective_settings(
    settings: Mapping[str, Setting],
    defaults: Mapping[str, Any],
    provided_vars: Mapping[str, Any],
    render: Render,
) -> tuple[dict[str, Any], list[str]]:
    """Typed values for every setting that can be evaluated, and the errors.

    A provided value that does not render or does not fit its spec is an error.
    A default that cannot be rendered on the controller (it reads facts of the
    host, for example) is left out: nobody wrote it, and its rules are skipped.
    """
    rendered: dict[str, Any] = {}
    provided: dict[str, Any] = {}
    errors: list[str] = []
    for name in settings:
        if name in provided_vars:
            try:
                provided[name] = render(provided_vars[name])
            except Exception as exc:
                errors.append(f"{name}: could not be evaluated: {exc}")
        elif name in defaults:
            try:
                rendered[name] = render(defaults[name])
            except Exception:  # noqa: S112 - e.g. a default that reads host facts
                continue
    coerced, type_errors = check_types(provided, settings)
    return {**rendered, **coerced}, errors + type_errors


def load_role_defaults(loader: Any, roles_dir: Path) -> dict[str, Any]:
    """Every role's defaults, merged, read by Ansible's loader so that their
    templates are trusted as Ansible's own role defaults are."""
    merged: dict[str, Any] = {}
    for role in specs.roles(roles_dir):
        for path in specs.default_files(role):
            merged.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    return merged


def host_settings(
    templar: Any,
    hostvars: Any,
    host: str,
    settings: Mapping[str, Setting],
    defaults: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """One host's typed settings, the errors found evaluating them, and the
    host's own (inventory and extra) vars. `templar` is an action's templar."""
    provided = dict(hostvars.raw_get(host))
    render = templar.copy_with_new_env(available_variables={**defaults, **provided}).template
    values, errors = effective_settings(settings, defaults, provided, render)
    return values, errors, provided
