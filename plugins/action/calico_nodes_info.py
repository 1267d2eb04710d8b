"""calico_nodes_info runs on the controller: read the datastore in-process (see module_utils/in_process.py)."""

import os

import ansible.module_utils
from ansible.plugins.action import ActionBase

# Controller plugins do not see ansible.cfg's module_utils path: add it as modules see it.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.calico_datastore import (  # noqa: E402
    DATASTORE_REQUIRED_IF,
    DatastoreError,
    datastore_argument_spec,
    read_nodes_info,
)
from ansible.module_utils.in_process import ModuleFailure, run_in_process  # noqa: E402


def _read(params):
    try:
        return read_nodes_info(params)
    except DatastoreError as exc:
        raise ModuleFailure(str(exc), **exc.context) from None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(run_in_process(self._task.args, datastore_argument_spec(), _read,
                                     required_if=DATASTORE_REQUIRED_IF))
        return result
