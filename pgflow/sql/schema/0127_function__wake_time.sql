-- pgflow-py addition (durable waits): a sleep step's wake time. Without p_at_path: p_started +
-- p_seconds. With it: the time found at that path of the step's input (an ISO 8601 text or
-- seconds since 1970) + p_seconds; NULL when there is nothing there or it is not a time (the
-- step then fails with the value it got; see _start_wait_steps). A time in the past is kept:
-- the step completes at once.
CREATE OR REPLACE FUNCTION pgflow._wake_time(p_at_path text[], p_input jsonb, p_started timestamptz, p_seconds int)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_value jsonb;
BEGIN
    IF p_at_path IS NULL THEN
        RETURN p_started + make_interval(secs => p_seconds);
    END IF;
    v_value := p_input #> p_at_path;
    IF v_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v_value) = 'number' THEN
        RETURN to_timestamp((v_value #>> '{}')::double precision) + make_interval(secs => p_seconds);
    END IF;
    IF jsonb_typeof(v_value) <> 'string' OR lower(v_value #>> '{}') IN ('now', 'today', 'tomorrow', 'yesterday', 'epoch', 'infinity', '-infinity') THEN
        RETURN NULL;
    END IF;
    RETURN (v_value #>> '{}')::timestamptz + make_interval(secs => p_seconds);
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END;
$$;
