-- The runs that match a filter, newest first (pgflow-py addition): the one filter of
-- client.list_runs and of the bulk operations (cancel_runs, retry_runs, resume_runs), which page
-- through it in batches. Every parameter left NULL filters nothing: p_flow_slug, p_status,
-- p_since (started at or after), p_until (started before), p_input (the input contains this
-- JSON, jsonb @>). Ordered by (started_at, run_id) descending; p_before_started_at and
-- p_before_run_id, when given, return only runs before that pair (a keyset cursor: a bulk
-- operation's new runs start later, so its next batch never meets them). At most p_limit rows.
CREATE OR REPLACE FUNCTION pgflow._select_runs(
    p_flow_slug text,
    p_status text,
    p_since timestamptz,
    p_until timestamptz,
    p_input jsonb,
    p_before_started_at timestamptz,
    p_before_run_id uuid,
    p_limit int
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT r.*
      FROM pgflow.runs AS r
     WHERE (p_flow_slug IS NULL OR r.flow_slug = p_flow_slug)
       AND (p_status IS NULL OR r.status = p_status)
       AND (p_since IS NULL OR r.started_at >= p_since)
       AND (p_until IS NULL OR r.started_at < p_until)
       AND (p_input IS NULL OR r.input @> p_input)
       AND (p_before_started_at IS NULL OR (r.started_at, r.run_id) < (p_before_started_at, p_before_run_id))
     ORDER BY r.started_at DESC, r.run_id DESC
     LIMIT p_limit;
END;
$$;
