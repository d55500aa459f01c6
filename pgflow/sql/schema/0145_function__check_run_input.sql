-- Refuse to start a run that cannot work: an unknown flow (PF001), a NULL input, or an input
-- that is not a JSON array for a flow whose root map step maps the flow input (PF003).
CREATE OR REPLACE FUNCTION pgflow._check_run_input(p_flow_slug text, p_input jsonb)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_root_map text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'Check the slug, or compile the flow first (a worker compiles its flows when it '
                   'starts; in SQL use pgflow.create_flow and pgflow.add_step).';
    END IF;
    IF p_input IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('flow %L cannot start with a NULL input', p_flow_slug),
            HINT = 'Pass a JSON value as the input, for example ''{}''::jsonb or ''null''::jsonb.';
    END IF;
    SELECT s.step_slug INTO v_root_map
      FROM pgflow.steps AS s
     WHERE s.flow_slug = p_flow_slug AND s.step_type = 'map' AND s.deps_count = 0
     ORDER BY s.step_index
     LIMIT 1;
    IF v_root_map IS NOT NULL AND jsonb_typeof(p_input) <> 'array' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('flow %L: root map step %L maps the flow input, which must be a JSON array, but got %s',
                             p_flow_slug, v_root_map, jsonb_typeof(p_input)),
            HINT = 'Start the flow with a JSON array as input, for example [1, 2, 3] (an empty array is fine).';
    END IF;
END;
$$;
