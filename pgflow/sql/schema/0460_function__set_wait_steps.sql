-- pgflow-py addition (durable waits): store which steps of a flow wait and how, replacing what
-- was stored (Client.compile calls it after ensure_flow_compiled, in the same transaction).
-- p_waits is an array of {"step_slug", "wait_kind", "timeout_seconds", "on_timeout",
-- "timeout_output", "early_signals", "at_path", "sleep_seconds", "child_flow_slug",
-- "input_path"} (absent keys take the table's defaults). Runs already waiting keep their waits;
-- a step that stops waiting runs a handler from its next start on.
-- Errors: PF001 unknown flow; PF004 a step the flow does not have, or a wait the table refuses.
CREATE OR REPLACE FUNCTION pgflow._set_wait_steps(p_flow_slug text, p_waits jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_missing text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001', MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'compile the flow first';
    END IF;
    SELECT w ->> 'step_slug' INTO v_missing
      FROM jsonb_array_elements(coalesce(p_waits, '[]')) AS w
     WHERE NOT EXISTS (SELECT 1 FROM pgflow.steps AS s
                        WHERE s.flow_slug = p_flow_slug AND s.step_slug = w ->> 'step_slug')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF004',
            MESSAGE = format('flow %L has no step %L to make a waiting step', p_flow_slug, v_missing),
            HINT = 'compile the flow as defined in code (its steps and its waits come from one definition)';
    END IF;

    DELETE FROM pgflow.wait_steps AS ws WHERE ws.flow_slug = p_flow_slug;
    INSERT INTO pgflow.wait_steps (flow_slug, step_slug, wait_kind, timeout_seconds, on_timeout, timeout_output,
                                   early_signals, at_path, sleep_seconds, child_flow_slug, input_path)
    SELECT p_flow_slug, w.step_slug, w.wait_kind, w.timeout_seconds, coalesce(w.on_timeout, 'fail'),
           w.timeout_output, coalesce(w.early_signals, 'keep'), w.at_path, coalesce(w.sleep_seconds, 0),
           w.child_flow_slug, w.input_path
      FROM jsonb_to_recordset(coalesce(p_waits, '[]')) AS w (
               step_slug text, wait_kind text, timeout_seconds int, on_timeout text, timeout_output jsonb,
               early_signals text, at_path text[], sleep_seconds int, child_flow_slug text, input_path text[]);
EXCEPTION WHEN check_violation OR not_null_violation OR invalid_text_representation THEN
    RAISE EXCEPTION USING ERRCODE = 'PF004',
        MESSAGE = format('flow %L: a waiting step is not valid (%s)', p_flow_slug, SQLERRM),
        HINT = 'define waiting steps with the DSL (flow.signal, flow.sleep, flow.sleep_until, flow.subflow)';
END;
$$;
