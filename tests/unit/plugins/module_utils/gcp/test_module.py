"""The base of the gcp_* modules (plugins/module_utils/gcp/module.py), as a module would use it."""

import io
import json
from contextlib import redirect_stdout

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import GceInputError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def module(args, diff=False, check=False):
    payload = {**args, "_ansible_diff": diff, "_ansible_check_mode": check}
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    basic._ANSIBLE_PROFILE = "legacy"
    return GcpModule(argument_spec={"name": dict(type="str", required=True)})


def ended(call):
    """Run ``call`` until the module exits; return what it printed."""
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        call()
    return json.loads(out.getvalue())


def test_connection_options_are_merged_with_their_defaults():
    params = module({"name": "x"}).params
    assert params["name"] == "x"
    assert (params["retries"], params["retry_delay"], params["operation_timeout"]) == (5, 1.0, 600)


def test_check_mode_is_supported():
    assert module({"name": "x"}, check=True).check_mode is True


def test_typed_errors_fail_with_their_message_and_context():
    gcp = module({"name": "x"})

    def work():
        with gcp.failing_on_errors():
            raise GceInputError("Instance name 'X' is invalid", http_status=400)

    result = ended(work)
    assert result["failed"] is True
    assert result["msg"] == "Instance name 'X' is invalid" and result["http_status"] == 400


def test_the_client_is_built_only_when_asked_for(tmp_path):
    # A key file that cannot be read fails where the client is built, not before.
    gcp = module({"name": "x", "credentials_file": str(tmp_path / "missing.json"), "project": "p"})

    def work():
        with gcp.failing_on_errors():
            return gcp.gce

    result = ended(work)
    assert result["msg"] == "Cannot load Google credentials from credentials_file: FileNotFoundError"


@pytest.mark.parametrize("diff", [False, True])
def test_the_diff_is_returned_only_when_asked_for(diff):
    gcp = module({"name": "x"}, diff=diff)
    result = ended(lambda: gcp.exit_with_diff({"changed": True, "diff": {"before": {}, "after": {"a": 1}}}))
    assert ("diff" in result) is diff
    assert result["changed"] is True


def test_a_change_is_validated_before_the_client_is_built(tmp_path):
    gcp = module({"name": "Bad", "credentials_file": str(tmp_path / "missing.json"), "project": "p"})
    calls = []

    def validate(params):
        raise GceInputError(f"Instance name '{params['name']}' is invalid")

    result = ended(lambda: gcp.run_change(validate, lambda *args: calls.append(args) or {}))
    assert result["msg"] == "Instance name 'Bad' is invalid"  # not the credentials error
    assert calls == []


def test_a_change_runs_with_the_check_mode_and_exits_with_its_result(monkeypatch):
    gcp = module({"name": "x"}, check=True, diff=True)
    monkeypatch.setattr(GcpModule, "gce", "the client")
    seen = []

    def change(gce, params, check_mode):
        seen.append((gce, params["name"], check_mode))
        return {"changed": True, "diff": {"before": {}, "after": {"name": "x"}}}

    result = ended(lambda: gcp.run_change(lambda params: None, change))
    assert seen == [("the client", "x", True)]
    assert result["changed"] is True and result["diff"]["after"] == {"name": "x"}
