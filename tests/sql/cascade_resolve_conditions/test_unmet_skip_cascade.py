from tests.sql.helpers import define_flow, run_row, start_flow, step_state


def test_unmet_skip_cascade_skips_everything_downstream(conn):
    define_flow(conn, "f", [
        ("other", []),
        ("vip", [], {"required_input_pattern": {"tier": "gold"}, "when_unmet": "skip-cascade"}),
        ("child", ["vip"]),
        ("grandchild", ["child", "other"]),
    ])

    run_id = start_flow(conn, "f", {"tier": "silver"})

    reasons = {slug: (step_state(conn, run_id, slug)["status"], step_state(conn, run_id, slug)["skip_reason"])
               for slug in ("vip", "child", "grandchild", "other")}
    assert reasons == {
        "vip": ("skipped", "condition_unmet"),
        "child": ("skipped", "dependency_skipped"),
        "grandchild": ("skipped", "dependency_skipped"),
        "other": ("started", None),
    }
    assert run_row(conn, run_id)["remaining_steps"] == 1
