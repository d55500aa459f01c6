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
    -- one fixed text, planned on each call with the values bound (EXECUTE ... USING), so a
    -- filter left NULL folds away and the index that fits (by flow, by status, by time) is used;
    -- a cached generic plan could not drop the "IS NULL OR" branches
    RETURN QUERY EXECUTE
    'SELECT r.*
       FROM pgflow.runs AS r
      WHERE ($1 IS NULL OR r.flow_slug = $1)
        AND ($2 IS NULL OR r.status = $2)
        AND ($3 IS NULL OR r.started_at >= $3)
        AND ($4 IS NULL OR r.started_at < $4)
        AND ($5 IS NULL OR r.input @> $5)
        AND ($6 IS NULL OR (r.started_at, r.run_id) < ($6, $7))
      ORDER BY r.started_at DESC, r.run_id DESC
      LIMIT $8'
    USING p_flow_slug, p_status, p_since, p_until, p_input, p_before_started_at, p_before_run_id, p_limit;
END;
$$;
