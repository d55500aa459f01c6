-- Check a flow's limits (flow control, pgflow-py addition) and return them tidied: keys whose
-- value is JSON null are dropped, and so are steps left without limits. The form is
--   {"max_running": n, "rate_limit": {"count": n, "per": seconds},
--    "steps": {"<step_slug>": {"max_running": n, "rate_limit": {...}}},
--    "concurrency_key": "<path>", "max_running_per_key": n, "rate_limit_per_key": {"count": n, "per": seconds}}
-- where the concurrency key (flow-wide only) is a path into the run's input - a top-level key or
-- keys joined by dots, each 1-200 characters, no empty part - and every n is a whole number from 1 to 2147483647, per a number of seconds above 0 (at
-- most a day), and every step is one of the flow's.
-- Raises PF003 naming the option, the flow (and the step) for anything else.
CREATE OR REPLACE FUNCTION pgflow._check_flow_limits(p_flow_slug text, p_limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_limits jsonb;
    v_item record;
    v_where text;
BEGIN
    IF jsonb_typeof(p_limits) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('the limits of flow %L must be a JSON object, got %s', p_flow_slug,
                             coalesce(jsonb_typeof(p_limits), 'NULL')),
            HINT = 'For example {"max_running": 3, "steps": {"charge": {"max_running": 1}}}.';
    END IF;
    v_limits := jsonb_strip_nulls(p_limits);
    IF v_limits ? 'steps' AND jsonb_typeof(v_limits->'steps') <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('"steps" in the limits of flow %L must be a JSON object of step slugs, got %s',
                             p_flow_slug, jsonb_typeof(v_limits->'steps')),
            HINT = 'For example {"steps": {"charge": {"max_running": 1}}}.';
    END IF;
    FOR v_item IN
        SELECT NULL::text AS step_slug, e.key, e.value
          FROM jsonb_each(v_limits - 'steps') AS e
        UNION ALL
        SELECT s.key, e.key, e.value
          FROM jsonb_each(coalesce(v_limits->'steps', '{}')) AS s
         CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.value) = 'object' THEN s.value
                                            ELSE jsonb_build_object('', s.value) END) AS e
    LOOP
        v_where := CASE WHEN v_item.step_slug IS NULL THEN format('flow %L', p_flow_slug)
                        ELSE format('step %L of flow %L', v_item.step_slug, p_flow_slug) END;
        IF v_item.step_slug IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM pgflow.steps AS st
                WHERE st.flow_slug = p_flow_slug AND st.step_slug = v_item.step_slug) THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('flow %L has no step %L to limit', p_flow_slug, v_item.step_slug),
                HINT = 'Name one of the flow''s steps (pgflow.steps), or leave the step out.';
        END IF;
        IF v_item.key = '' THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('the limits of %s must be a JSON object, got %s', v_where,
                                 jsonb_typeof(v_item.value)),
                HINT = 'For example {"max_running": 1}.';
        END IF;
        IF v_item.key NOT IN ('max_running', 'rate_limit')
           AND (v_item.step_slug IS NOT NULL
                OR v_item.key NOT IN ('max_running_per_key', 'rate_limit_per_key', 'concurrency_key')) THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('unknown limit %L for %s', v_item.key, v_where),
                HINT = CASE WHEN v_item.step_slug IS NULL
                            THEN 'The limits are: max_running, rate_limit, concurrency_key, max_running_per_key, '
                                 'rate_limit_per_key, steps.'
                            ELSE 'A step''s limits are: max_running, rate_limit (per-key limits are flow-wide).' END;
        END IF;
        IF v_item.key = 'concurrency_key' THEN
            IF jsonb_typeof(v_item.value) <> 'string' OR v_item.value #>> '{}' = ''
               OR EXISTS (SELECT 1 FROM unnest(string_to_array(v_item.value #>> '{}', '.')) AS part (p)
                           WHERE part.p = '' OR length(part.p) > 200) THEN
                RAISE EXCEPTION USING ERRCODE = 'PF003',
                    MESSAGE = format('concurrency_key of %s must be a path into the run input: a key, or keys '
                                     'joined by dots (each 1-200 characters), got %s', v_where, v_item.value),
                    HINT = 'For example "customer_id", or "customer.id" for {"customer": {"id": ...}}.';
            END IF;
            CONTINUE;
        END IF;
        IF v_item.key IN ('rate_limit', 'rate_limit_per_key') THEN
            IF jsonb_typeof(v_item.value) <> 'object' OR (v_item.value - 'count' - 'per') <> '{}'
               OR jsonb_typeof(v_item.value->'count') IS DISTINCT FROM 'number'
               OR jsonb_typeof(v_item.value->'per') IS DISTINCT FROM 'number'
               OR (v_item.value->>'count')::numeric <> trunc((v_item.value->>'count')::numeric)
               OR (v_item.value->>'count')::numeric NOT BETWEEN 1 AND 2147483647
               OR (v_item.value->>'per')::numeric <= 0 OR (v_item.value->>'per')::numeric > 86400 THEN
                RAISE EXCEPTION USING ERRCODE = 'PF003',
                    MESSAGE = format('%s of %s must be {"count": a whole number of at least 1, "per": '
                                     'seconds above 0 (at most 86400)}, got %s', v_item.key, v_where, v_item.value),
                    HINT = 'For example {"count": 10, "per": 1} for 10 starts a second.';
            END IF;
            CONTINUE;
        END IF;
        IF jsonb_typeof(v_item.value) <> 'number' OR v_item.value::numeric <> trunc(v_item.value::numeric)
           OR v_item.value::numeric < 1 OR v_item.value::numeric > 2147483647 THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('%s of %s must be a whole number of at least 1, got %s', v_item.key, v_where,
                                 v_item.value),
                HINT = 'To let the tasks run without a limit, remove it (set it to null).';
        END IF;
    END LOOP;
    -- steps left without limits go
    RETURN CASE WHEN (SELECT count(*) FROM jsonb_each(coalesce(v_limits->'steps', '{}')) AS s
                       WHERE s.value <> '{}') = 0
                THEN v_limits - 'steps'
                ELSE jsonb_set(v_limits, '{steps}',
                               (SELECT jsonb_object_agg(s.key, s.value)
                                  FROM jsonb_each(v_limits->'steps') AS s WHERE s.value <> '{}')) END;
END;
$$;
