"""calico_identity_info reads the nodename file as calico-node does: as is."""

import socket

from tests.conftest import run_module


def test_raw_nodename_with_newline_and_upper_case_is_returned_as_is(tmp_path):
    nodename = tmp_path / "nodename"
    nodename.write_text("AWS-na-k8s-temp1\n")
    result = run_module("calico_identity_info", {"nodename_file": str(nodename)}, check=True)
    assert result["nodename"] == "AWS-na-k8s-temp1\n" and not result["changed"]
    assert result["hostname"] == socket.gethostname()


def test_missing_nodename_file_is_null(tmp_path):
    result = run_module("calico_identity_info", {"nodename_file": str(tmp_path / "absent")})
    assert result["nodename"] is None and not result.get("failed")
