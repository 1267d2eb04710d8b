"""calico_mesh_check runs on the controller: judge the mesh in-process (see module_utils/in_process.py)."""

import os

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller plugins do not see ansible.cfg's module_utils path: add it as modules see it.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.in_process import run_in_process  # noqa: E402
from ansible.module_utils.mesh_check import ARGUMENT_SPEC, mesh_check  # noqa: E402


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(run_in_process(self._task.args, ARGUMENT_SPEC, mesh_check))
        return result
