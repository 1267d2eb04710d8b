# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico_nodes_info runs on the controller: read the datastore in-process (see module_utils/in_process.py)."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.connect import (
    DATASTORE_REQUIRED_IF,
    datastore_argument_spec,
    read_nodes_info,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import ModuleFailure, run_in_process


def _read(params: dict) -> dict:
    try:
        return read_nodes_info(params)
    except DatastoreError as exc:
        raise ModuleFailure(**exc.fail_args()) from None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        result.update(run_in_process(self._task.args, datastore_argument_spec(), _read,
                                     required_if=DATASTORE_REQUIRED_IF))
        return result
