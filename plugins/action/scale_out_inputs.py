# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scale_out_inputs runs on the controller: it reads the roles' argument specs and the play's variables.

The roles' inputs are declared in their meta/argument_specs.yml (plugin_utils/role_specs.py); this
plugin takes the variables those specs name from the play (as the role argument check of Ansible does)
and checks them all at once with validation/scale_out.py, before any cloud or datastore call.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.scale_out import (
    ACTION_ARGUMENT_SPEC,
    SCALE_OUT_VARIABLES,
    validate_scale_out_inputs,
)
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.role_specs import RoleSpecError, load_role_specs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _play_variables(self, names: set, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The declared variables among ``names``, templated (as Ansible's own role argument check takes them)."""
        return self._templar.template({name: task_vars[name] for name in sorted(names) if name in task_vars})

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(ACTION_ARGUMENT_SPEC).validate(dict(self._task.args))
        if checked.error_messages:
            return {**result, "failed": True, "changed": False, "msg": "; ".join(checked.error_messages)}
        args = checked.validated_parameters
        try:
            specs = load_role_specs(args["roles"])
        except RoleSpecError as exc:
            return {**result, "failed": True, "changed": False, "msg": str(exc)}
        variables = args["variables"]
        if variables is None:
            names = set(SCALE_OUT_VARIABLES).union(*(set(spec) for spec in specs.values()))
            variables = self._play_variables(names, task_vars or {})
        try:
            derived = validate_scale_out_inputs(variables, specs, args["provided"])
        except InputError as exc:
            return {**result, "failed": True, "changed": False, "msg": str(exc), "problems": exc.problems}
        return {**result, "changed": False, **derived}
