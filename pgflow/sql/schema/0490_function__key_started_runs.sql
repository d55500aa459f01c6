-- Give the started runs of flow p_flow_slug that have no concurrency key (runs.concurrency_key
-- NULL: started while the flow had no per-key limit) the key their input gives under the limits
-- now in force, as pgflow._run_concurrency_key would have ('' when the input lacks it). Called by
-- set_flow_limits and _declare_flow_limits; it keys runs when the limits have a per-key limit
-- (max_running_per_key, rate_limit_per_key), so the
-- claim's fair read (pgflow._read_by_key, which offers keyed runs only) reaches those runs too.
-- Once per limit change; runs already keyed (by a callable, or before) keep their key.
CREATE OR REPLACE FUNCTION pgflow._key_started_runs(p_flow_slug text, p_limits jsonb)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    UPDATE pgflow.runs AS r
       SET concurrency_key = coalesce(r.input #>> string_to_array(p_limits ->> 'concurrency_key', '.'), '')
     WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key IS NULL
       AND p_limits ?| ARRAY['max_running_per_key', 'rate_limit_per_key'];
$$;
