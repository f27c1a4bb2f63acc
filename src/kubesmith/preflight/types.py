"""Type and choice checks of provided values against the argument specs."""

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from kubesmith.preflight.specs import Setting

_ARTICLES = {"int": "an integer", "str": "a string", "dict": "a mapping", "list": "a list"}


def _expected(setting: Setting) -> str:
    spec = setting.spec
    if "choices" in spec:
        return "one of " + ", ".join(str(c) for c in spec["choices"])
    if setting.type == "list" and "elements" in spec:
        return f"a list of {spec['elements']}"
    if setting.type == "bool":
        return "true or false (yes/no accepted)"
    return _ARTICLES.get(setting.type, f"a {setting.type}")


def check_types(
    provided: Mapping[str, Any], settings: Mapping[str, Setting]
) -> tuple[dict[str, Any], list[str]]:
    """Coerce each provided value to its spec's type (as Ansible's role validation
    does: "yes" -> True, "8472" -> 8472) and describe every value that does not fit.

    Returns the coerced values of the settings that passed, and the errors.
    """
    coerced: dict[str, Any] = {}
    errors: list[str] = []
    for name, value in provided.items():
        setting = settings[name]
        if setting.type in ("list", "dict") and isinstance(value, str):
            # Ansible's validation would split "a,b" into a list, but the roles
            # read the variable itself, which stays a string.
            empty = "[]" if setting.type == "list" else "{}"
            errors.append(
                f"{name}: {value!r} is a string, not {_expected(setting)}; on the command "
                f"line pass it as JSON, e.g. -e '{{\"{name}\": {empty}}}'"
            )
            continue
        validator = ArgumentSpecValidator({name: setting.validation_spec()})
        result = validator.validate({name: value}, validate_role_argument_spec=True)
        if result.errors.errors:
            detail = ""
            if setting.type in ("list", "dict"):
                detail = " (" + "; ".join(str(e) for e in result.error_messages) + ")"
            errors.append(
                f"{name}: {value!r} is not {_expected(setting)}{detail}; "
                f"see roles/{setting.role}/meta/argument_specs.yml"
            )
        else:
            coerced[name] = result.validated_parameters[name]
    return coerced, errors
