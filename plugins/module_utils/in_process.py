# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a controller-side, read-only module's logic inside the controller process.

calico_nodes_info and calico_mesh_check always run on the controller. As
modules, each call costs a Python start and a payload round trip; their
action plugins (plugins/action/) call the same logic in-process instead,
validating the task's arguments against the very argument spec the module
declares. The modules stay the documented, standalone entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator


def run_in_process(task_args: Mapping[str, Any], argument_spec: dict[str, Any],
                   logic: Callable[[dict[str, Any]], dict[str, Any]], **validator_kwargs: Any) -> dict[str, Any]:
    """Validate `task_args` like AnsibleModule would, then return `logic(params)`.

    `logic` returns the result dict; it raises ModuleFailure to fail with context.
    """
    validation = ArgumentSpecValidator(argument_spec, **validator_kwargs).validate(dict(task_args))
    if validation.error_messages:
        return {"failed": True, "changed": False, "msg": "; ".join(validation.error_messages)}
    try:
        result = logic(validation.validated_parameters)
    except ModuleFailure as exc:
        return {"failed": True, "changed": False, "msg": exc.msg, **exc.context}
    return {"changed": False, **result}


class ModuleFailure(Exception):
    def __init__(self, msg: str, **context: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.context = context
