"""The stand-in picks and validates node names like calico-node."""

import pytest

from lab.calico_node import StartupError, determine_nodename, validate_nodename


def test_precedence_nodename_env_then_file_then_hostname_env_then_os(tmp_path):
    f = tmp_path / "nodename"
    assert determine_nodename({"NODENAME": " env-name \n", "HOSTNAME": "h"}, "os", f) == "env-name"
    f.write_text("file-name\n")
    assert determine_nodename({"HOSTNAME": "h"}, "os", f) == "file-name\n"  # read as is
    f.unlink()
    assert determine_nodename({"HOSTNAME": " Host-Env "}, "os", f) == "host-env"
    assert determine_nodename({}, "AWS-na-k8s-temp1", f) == "aws-na-k8s-temp1"


@pytest.mark.parametrize("bad", ["node-1\n", "Node-1", "-node", "node_1", "a" * 254, ""])
def test_invalid_names_are_refused(bad):
    with pytest.raises(StartupError, match="Metadata.Name"):
        validate_nodename(bad)


@pytest.mark.parametrize("good", ["node-1", "ip-172-31-7-227", "node-1.example.internal"])
def test_valid_names_pass(good):
    validate_nodename(good)
