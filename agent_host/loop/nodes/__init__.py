"""The loop's nodes, one module each: detect_incident → gather_context → analyze_compose → diagnose
→ wait_for_related → plan_solution → execute_action → verify_fix → learn, with escalate and rollback. Each exports
`run(state, deps) -> state update`; `loop/graph.py` wires them."""
