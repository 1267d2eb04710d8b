# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs of the collection's roles (roles/<role>/meta/argument_specs.yml), read on the controller.

A role input is declared once, in its role's argument spec; the first play's input check
(plugins/action/scale_out_inputs.py) reads the specs from here instead of knowing the variables itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import yaml

# The collection's root: plugins/plugin_utils/role_specs.py -> three levels up (checkout or installed).
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RoleSpecError(ValueError):
    """A role named has no argument spec to read."""


def role_spec_path(role: str, root: str | None = None) -> str:
    return os.path.join(root or COLLECTION_ROOT, "roles", role, "meta", "argument_specs.yml")


def load_role_spec(role: str, entry_point: str = "main", root: str | None = None) -> dict[str, Any]:
    """The options of ``role``'s entry point, as its meta/argument_specs.yml declares them."""
    path = role_spec_path(role, root)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise RoleSpecError(f"role {role!r} has no argument spec at {path}: {exc.strerror}") from None
    try:
        return dict(data["argument_specs"][entry_point].get("options") or {})
    except (KeyError, TypeError, AttributeError):
        raise RoleSpecError(f"{path} declares no entry point {entry_point!r}") from None


def load_role_specs(roles: Iterable[str], root: str | None = None) -> dict[str, dict[str, Any]]:
    """{role: options} for each role named, in the order named."""
    return {role: load_role_spec(role, root=root) for role in roles}
