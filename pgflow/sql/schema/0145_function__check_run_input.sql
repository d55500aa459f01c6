-- Refuse to start a run that cannot work: an unknown flow (PF001), a NULL input, or an input
-- that is not a JSON array for a flow with a root map step (PF003). The two root-map messages
-- are upstream pgflow's texts ('Flow <slug> has root map steps but input is ...'), which
-- pgflow's TypeScript client and tools match on; SQLSTATE and hint are pgflow-py's.
CREATE OR REPLACE FUNCTION pgflow._check_run_input(p_flow_slug text, p_input jsonb)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_has_root_map boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'Check the slug, or compile the flow first (a worker compiles its flows when it '
                   'starts; in SQL use pgflow.create_flow and pgflow.add_step).';
    END IF;
    v_has_root_map := EXISTS (
        SELECT 1 FROM pgflow.steps AS s
         WHERE s.flow_slug = p_flow_slug AND s.step_type = 'map' AND s.deps_count = 0);
    IF v_has_root_map AND p_input IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('Flow %s has root map steps but input is NULL', p_flow_slug),
            HINT = 'A root map step maps the flow input: start the flow with a JSON array, for example '
                   '''[1, 2, 3]''::jsonb (an empty array is fine).';
    END IF;
    IF p_input IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('flow %L cannot start with a NULL input', p_flow_slug),
            HINT = 'Pass a JSON value as the input, for example ''{}''::jsonb or ''null''::jsonb.';
    END IF;
    IF v_has_root_map AND jsonb_typeof(p_input) <> 'array' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('Flow %s has root map steps but input is not an array (got %s)',
                             p_flow_slug, jsonb_typeof(p_input)),
            HINT = 'A root map step maps the flow input: start the flow with a JSON array, for example '
                   '''[1, 2, 3]''::jsonb (an empty array is fine).';
    END IF;
END;
$$;
