"""Controller-side modules run in-process with the module's own argument checks."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import ModuleFailure, run_in_process
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import ARGUMENT_SPEC, mesh_check


def test_arguments_are_validated_against_the_module_spec():
    result = run_in_process({"hosts": {}, "cloud": "azure"}, ARGUMENT_SPEC, mesh_check)
    assert result["failed"] is True and result["changed"] is False
    assert "nodes" in result["msg"] and "azure" in result["msg"]


def test_failure_keeps_its_context_and_success_is_never_changed():
    def boom(params):
        raise ModuleFailure("datastore unreachable", endpoint="http://198.18.0.2:2379")

    assert run_in_process({}, {}, boom) == {"failed": True, "changed": False, "msg": "datastore unreachable",
                                            "endpoint": "http://198.18.0.2:2379"}
    ok = run_in_process({"hosts": {"a": {"ip": "198.18.0.11", "status": {"peers": []}}}, "nodes": []},
                        ARGUMENT_SPEC, mesh_check)
    assert ok["changed"] is False and "healthy" in ok, ok
