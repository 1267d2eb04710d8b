# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico_mesh_check runs on the controller: judge the mesh in-process (see module_utils/in_process.py)."""

from ansible.plugins.action import ActionBase
from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import run_in_process
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import ARGUMENT_SPEC, mesh_check


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(run_in_process(self._task.args, ARGUMENT_SPEC, mesh_check))
        return result
