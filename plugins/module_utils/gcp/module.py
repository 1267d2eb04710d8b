# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the gcp_* modules, after amazon.aws's ``AnsibleAWSModule``.

What every gcp_* module does the same way is written here once: the
connection options (``CONNECTION_SPEC``, documented by the
``calico_fleet.fleet.gce_connection`` doc fragment) merged into the
module's own argument spec, check mode supported, the client built only
when the module asks for it (after its inputs are validated, so bad input
fails before credentials are looked up), ``GceError`` turned into
``fail_json(msg, **context)``, and the diff returned only when asked for.
A module that changes something is then one line::

    GcpModule(argument_spec=RULE_SPEC).run_change(validate, ensure)

and a module with more to say uses the parts (``failing_on_errors``,
``gce``, ``result_with_diff``, ``exit_with_diff``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.client import CONNECTION_SPEC, Gce
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import GceError


class GcpModule(AnsibleModule):
    """An AnsibleModule with the Compute Engine connection options and client."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        kwargs.setdefault("supports_check_mode", True)
        super().__init__(argument_spec={**argument_spec, **CONNECTION_SPEC}, **kwargs)
        self._gce: Gce | None = None

    @property
    def gce(self) -> Gce:
        """The Compute Engine clients, built on first use from the connection options."""
        if self._gce is None:
            self._gce = Gce(self.params)
        return self._gce

    @contextmanager
    def failing_on_errors(self) -> Iterator[None]:
        """Inside this block a ``GceError`` ends the module with ``fail_json(msg, **context)``."""
        try:
            yield
        except GceError as exc:
            self.fail_json(msg=exc.msg, **exc.context)

    def result_with_diff(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` with its ``diff`` kept only when the run asked for one (--diff)."""
        diff = result.pop("diff", None)
        if self._diff and diff is not None:
            result["diff"] = diff
        return result

    def exit_with_diff(self, result: dict[str, Any]) -> None:
        self.exit_json(**self.result_with_diff(result))

    def run_change(self, validate: Callable[[dict[str, Any]], object],
                   change: Callable[[Gce, dict[str, Any], bool], dict[str, Any]]) -> None:
        """The whole run of a module that changes something: ``validate(params)`` first (bad input fails
        before credentials are looked up), then ``change(gce, params, check_mode)``, whose result
        (with its ``diff``) the module exits with."""
        with self.failing_on_errors():
            validate(self.params)
            result = change(self.gce, self.params, self.check_mode)
        self.exit_with_diff(result)
