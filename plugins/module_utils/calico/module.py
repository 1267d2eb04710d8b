# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``CalicoModule``: the one base of the modules that read or write Calico's datastore.

After amazon.aws's ``AnsibleAWSModule``: it merges the datastore options
(``datastore_argument_spec``, set once per play through the action group
``calico_fleet.fleet.calico_datastore``) into the module's own argument spec,
connects on first use (``datastore()``), turns the typed errors of the helpers
into ``fail_json`` with their context, and returns the diff only when it was
asked for. A module's ``main()`` is then: build the module, call the helper
through ``run()``, ``exit_result()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import ResourceValidationError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.connect import (
    DATASTORE_REQUIRED_IF,
    connect,
    datastore_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError


def resource_argument_spec(states: tuple[str, ...] = ("present", "absent"), **options: dict) -> dict:
    """The options of a module that manages one named resource: ``name``, ``state`` (the first of
    ``states`` by default), then the module's own ``options``."""
    return dict(name=dict(type="str", required=True),
                state=dict(type="str", default=states[0], choices=list(states)), **options)


class CalicoModule(AnsibleModule):
    """An AnsibleModule with the datastore options, a connection, and the shared error handling."""

    def __init__(self, argument_spec: dict | None = None, required_if: list | None = None,
                 **kwargs: Any) -> None:
        spec = datastore_argument_spec()
        spec.update(argument_spec or {})
        kwargs.setdefault("supports_check_mode", True)
        super().__init__(argument_spec=spec, required_if=DATASTORE_REQUIRED_IF + list(required_if or []), **kwargs)
        self._datastore: Datastore | None = None

    def datastore(self) -> Datastore:
        """The datastore the options name, connected on first use."""
        if self._datastore is None:
            self._datastore = connect(self.params)
        return self._datastore

    def run(self, logic: Callable[..., dict], *args: Any, **context: Any) -> dict:
        """``logic(self.datastore(), *args)``; a helper's typed error fails the task with ``context`` and its own.

        ResourceValidationError adds the option to change (``field``); DatastoreError its
        endpoint, key or API host.
        """
        try:
            return logic(self.datastore(), *args)
        except ResourceValidationError as exc:
            self.fail_json(msg=str(exc), field=exc.field, **context)
        except DatastoreError as exc:
            self.fail_json(**exc.fail_args(**context))
        raise AssertionError("fail_json returned")  # for type checkers: fail_json exits

    def exit_result(self, result: dict) -> None:
        """Exit with ``result``; its ``diff`` only when diff mode is on, ``changed`` false unless it says so."""
        result = dict(result)
        diff = result.pop("diff", None)
        if self._diff and diff is not None:
            result["diff"] = diff
        result.setdefault("changed", False)
        self.exit_json(**result)
