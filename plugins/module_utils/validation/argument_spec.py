# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's inputs checked against its argument spec (meta/argument_specs.yml), the way Ansible checks them.

The spec is the one place a role input is declared (type, required, choices, elements, the options of a
list of dicts); ``spec_problems`` runs Ansible's own ``ArgumentSpecValidator`` over each declared
variable and words every error as a problem naming that variable and what to change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputProblems

# Keys of an argument spec option that only document it.
_DOC_KEYS = ("description", "short_description", "version_added", "notes", "seealso")


def validator_spec(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of an argument spec without their documentation (nested options too)."""
    out = {}
    for name, option in (options or {}).items():
        option = {k: v for k, v in dict(option or {}).items() if k not in _DOC_KEYS}
        if isinstance(option.get("options"), Mapping):
            option["options"] = validator_spec(option["options"])
        out[name] = option
    return out


def _what(option: Mapping[str, Any]) -> str:
    kind = option.get("type", "str")
    if kind == "list":
        elements = option.get("elements")
        return f"a list of {elements}s" if elements else "a list"
    return {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
            "dict": "a mapping", "path": "a path", "raw": "a value"}.get(kind, f"a {kind}")


def _fix(name: str, option: Mapping[str, Any], message: str) -> str:
    if option.get("choices"):
        return f"set {name} to one of {', '.join(map(str, option['choices']))}"
    if option.get("options"):
        keys = ", ".join(option["options"])
        if "Supported parameters" in message:
            return f"write each entry of {name} with the keys {keys} only"
        return f"change the entry of {name} as the message says (keys: {keys}; see the role's argument spec)"
    return f"set {name} to {_what(option)}"


def _declared(value: Any) -> bool:
    return value not in (None, "", [], {})


def spec_problems(options: Mapping[str, Any], variables: Mapping[str, Any], out: InputProblems,
                  provided: Collection[str] = (), role: str | None = None) -> None:
    """Add to ``out`` every way ``variables`` break the argument spec ``options``.

    Only declared variables are checked; a required option that is not declared, and not in
    ``provided`` (set by the playbook itself), is named as missing.
    """
    spec = validator_spec(options)
    where = f" (role {role})" if role else ""
    for name, option in spec.items():
        if name not in variables or variables[name] is None:
            if option.get("required") and name not in provided:
                out.add(name, f"is not set{where}", f"set {name} in the inventory ({_what(option)})")
            continue
        if option.get("required") and not _declared(variables[name]) and name not in provided:
            out.add(name, f"is empty{where}", f"set {name} in the inventory ({_what(option)})")
            continue
        for label, value in _entries(name, option, variables[name]):
            result = ArgumentSpecValidator({name: option}).validate({name: value})
            for message in result.error_messages:
                out.add(label, message, _fix(name, option, message))


def _entries(name: str, option: Mapping[str, Any], value: Any) -> list[tuple[str, Any]]:
    """A list of dicts is checked entry by entry, so that a problem names its entry
    (``calico_network_ippools[0] (batch-pool)``); any other value as a whole."""
    if option.get("elements") != "dict" or not option.get("options") or not isinstance(value, list):
        return [(name, value)]
    out = []
    for index, entry in enumerate(value):
        label = f"{name}[{index}]"
        if isinstance(entry, Mapping) and entry.get("name"):
            label += f" ({entry['name']})"
        out.append((label, [entry]))
    return out
