"""The IPIP probe matrix (plugins/module_utils/ipip/matrix.py)."""


from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import matrix

ORDER = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]


def collected(address, **heard):
    return {"changed": False, "address": address,
            "received_from": {ip.replace("_", "."): ok for ip, ok in heard.items()}}


def test_matrix_orients_rows_as_senders():
    # .12 heard .11, but .11 did not hear .12: the path .12 -> .11 is broken.
    out = matrix.probe_matrix({"n1": collected("198.18.0.11", **{"198_18_0_12": False}),
                             "n2": collected("198.18.0.12", **{"198_18_0_11": True})})
    assert out["matrix"] == {"198.18.0.11": {"198.18.0.12": True}, "198.18.0.12": {"198.18.0.11": False}}
    assert out["failed"] == [["198.18.0.12", "198.18.0.11"]]
    assert out["unmeasured"] == []


def test_matrix_marks_receivers_without_result_unknown():
    out = matrix.probe_matrix({
        "n1": collected("198.18.0.9", **{"198_18_0_10": True, "198_18_0_11": True}),
        "n2": {"unreachable": True, "failed": True},
        "n3": collected("198.18.0.11", **{"198_18_0_9": True, "198_18_0_10": True}),
    })
    assert out["unmeasured"] == ["n2"]
    assert list(out["matrix"]) == ["198.18.0.9", "198.18.0.10", "198.18.0.11"]
    assert out["matrix"]["198.18.0.9"] == {"198.18.0.10": None, "198.18.0.11": True}
    assert out["failed"] == []
    lines = out["table"].splitlines()
    assert lines[2].split() == ["198.18.0.9", "-", "?", "ok"]
    assert lines[3].split() == ["198.18.0.10", "ok", "-", "ok"]


def test_matrix_table_shows_failures():
    out = matrix.probe_matrix({"a": collected("198.18.0.11", **{"198_18_0_12": False}),
                             "b": collected("198.18.0.12", **{"198_18_0_11": False})})
    assert out["table"].splitlines()[1:] == [
        "from \\ to    198.18.0.11  198.18.0.12",
        "198.18.0.11  -            FAIL",
        "198.18.0.12  FAIL         -",
    ]


def test_matrix_of_nothing():
    assert matrix.probe_matrix({}) == {"matrix": {}, "failed": [], "unmeasured": [],
                                     "table": "IPIP probe: no results"}


def test_matrix_fills_columns_learnt_by_the_collector():
    collector = {"address": ORDER[0], "received_from": {ORDER[1]: True, ORDER[2]: True},
                 "columns": {ORDER[1]: {ORDER[0]: True, ORDER[2]: False}}}
    out = matrix.probe_matrix([collector], {"n1": ORDER[0], "n2": ORDER[1], "n3": ORDER[2]})
    assert out["matrix"][ORDER[2]] == {ORDER[0]: True, ORDER[1]: False}
    assert out["matrix"][ORDER[0]][ORDER[2]] is None  # nothing known about .13's column
    assert out["unmeasured"] == ["n3"] and out["failed"] == [[ORDER[2], ORDER[1]]]
    direct = {"address": ORDER[2], "received_from": {ORDER[0]: True, ORDER[1]: True}}
    out = matrix.probe_matrix([collector, direct], {"n1": ORDER[0], "n2": ORDER[1], "n3": ORDER[2]})
    assert out["unmeasured"] == [] and out["matrix"][ORDER[0]][ORDER[2]] is True
