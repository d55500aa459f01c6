-- Change a flow's limits at runtime (pgflow-py addition; client.set_limits and
-- `pgflow flows limits` call it). `limits` is merged into the limits in force: a key given
-- replaces its value, a key set to JSON null removes that limit, keys left out stay; under
-- "steps" each step's limits merge the same way ({"steps": {"a": null}} removes all of step a's).
-- The result is checked by pgflow._check_flow_limits (PF003) and applies to the next claim. It
-- lasts until the flow's code declares different limits (pgflow._declare_flow_limits).
-- Returns the limits now in force. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.set_flow_limits(flow_slug text, limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(set_flow_limits.flow_slug);
    v_limits jsonb;
    v_steps jsonb;
    v_step record;
BEGIN
    IF jsonb_typeof(set_flow_limits.limits) IS DISTINCT FROM 'object' THEN
        PERFORM pgflow._check_flow_limits(set_flow_limits.flow_slug, set_flow_limits.limits);
    END IF;
    v_limits := v_row.limits || (set_flow_limits.limits - 'steps');
    IF jsonb_typeof(set_flow_limits.limits->'steps') = 'object' THEN
        v_steps := coalesce(v_row.limits->'steps', '{}');
        FOR v_step IN SELECT s.key, s.value FROM jsonb_each(set_flow_limits.limits->'steps') AS s LOOP
            v_steps := jsonb_set(v_steps, ARRAY[v_step.key],
                                 CASE WHEN jsonb_typeof(v_step.value) = 'null' THEN '{}'::jsonb
                                      WHEN jsonb_typeof(v_step.value) = 'object'
                                      THEN coalesce(v_steps->v_step.key, '{}') || v_step.value
                                      ELSE v_step.value END);
        END LOOP;
        v_limits := jsonb_set(v_limits, '{steps}', v_steps);
    ELSIF set_flow_limits.limits ? 'steps' THEN
        v_limits := jsonb_set(v_limits, '{steps}', set_flow_limits.limits->'steps');
    END IF;
    v_limits := pgflow._check_flow_limits(set_flow_limits.flow_slug, v_limits);
    UPDATE pgflow.flow_controls AS c SET limits = v_limits, updated_at = now()
     WHERE c.flow_slug = set_flow_limits.flow_slug;
    PERFORM pgflow._key_started_runs(set_flow_limits.flow_slug, v_limits);
    PERFORM pgflow._drop_idle_flow_control(set_flow_limits.flow_slug);
    RETURN v_limits;
END;
$$;
