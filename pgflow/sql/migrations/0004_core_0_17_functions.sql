-- pgflow-py migration 0004_core_0_17_functions: drafted by scripts/build_migration.py from the schema files changed since 44916db

-- 0100_function_set_vt_batch.sql
-- Move the visibility time of several messages of one queue in one statement: message
-- msg_ids[i] becomes visible vt_offsets[i] seconds from now (clock time). Returns the updated
-- messages; ids that are not in the queue are left out. Both arrays must have the same length
-- (the error's text is upstream pgflow's; a missing array counts as length 0, where upstream
-- returns nothing).
-- The queue table is named through pgmq.format_table_name, so this follows pgmq's layout
-- (pgmq >= 1.5, which has the headers column).
CREATE OR REPLACE FUNCTION pgflow.set_vt_batch(queue_name text, msg_ids bigint[], vt_offsets int[])
RETURNS TABLE (msg_id bigint, read_ct int, enqueued_at timestamptz, vt timestamptz, message jsonb, headers jsonb)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF cardinality(msg_ids) IS DISTINCT FROM cardinality(vt_offsets) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('msg_ids length (%s) must equal vt_offsets length (%s)',
                             coalesce(cardinality(msg_ids), 0), coalesce(cardinality(vt_offsets), 0)),
            HINT = 'Pass exactly one visibility offset (seconds) per message id.';
    END IF;
    IF coalesce(cardinality(msg_ids), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'UPDATE pgmq.%I AS q
            SET vt = clock_timestamp() + make_interval(secs => v.vt_offset)
           FROM unnest($1, $2) AS v(msg_id, vt_offset)
          WHERE q.msg_id = v.msg_id
      RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
        pgmq.format_table_name(queue_name, 'q'))
    USING msg_ids, vt_offsets;
END;
$$;

-- 0145_function__check_run_input.sql
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

