-- The structural differences between two FlowShapes - `p_code`, the shape a worker's code
-- declares, and `p_database`, the stored one - one line each; empty when they match. Compared
-- per position: step count, slug, stepType, dependencies, whenUnmet, whenExhausted and both
-- input patterns (missing keys count as their defaults, see _normalize_shape_step). Numeric
-- options are not structural and are not compared. The lines are upstream pgflow's texts
-- ("first" is p_code, "second" p_database), which tools match on; pgflow-py's Python layer
-- words its own errors.
CREATE OR REPLACE FUNCTION pgflow._compare_flow_shapes(p_code jsonb, p_database jsonb)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    WITH code AS (
        SELECT (i - 1)::int AS idx, pgflow._normalize_shape_step(e) AS step
        FROM jsonb_array_elements(coalesce(p_code->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    ), db AS (
        SELECT (i - 1)::int AS idx, pgflow._normalize_shape_step(e) AS step
        FROM jsonb_array_elements(coalesce(p_database->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    ), pairs AS (
        SELECT coalesce(code.idx, db.idx) AS idx, code.step AS c, db.step AS d
        FROM code FULL JOIN db ON db.idx = code.idx
    ), differences AS (
        SELECT -1 AS idx, 0 AS n,
               format('Step count differs: %s vs %s', (SELECT count(*) FROM code), (SELECT count(*) FROM db)) AS line
        WHERE (SELECT count(*) FROM code) <> (SELECT count(*) FROM db)
        UNION ALL
        SELECT idx, 0, CASE WHEN c IS NULL
                            THEN format('Step at index %s: missing in first shape (second has ''%s'')', idx, d->>'slug')
                            ELSE format('Step at index %s: missing in second shape (first has ''%s'')', idx, c->>'slug') END
        FROM pairs
        WHERE c IS NULL OR d IS NULL
        UNION ALL
        SELECT p.idx, k.n,
               CASE WHEN k.key = 'dependencies'
                    THEN format('Step at index %s: dependencies differ %s vs %s', p.idx,
                                pgflow._shape_value_text(p.c->k.key), pgflow._shape_value_text(p.d->k.key))
                    ELSE format('Step at index %s: %s differs ''%s'' vs ''%s''', p.idx, k.label,
                                CASE WHEN jsonb_typeof(p.c->k.key) = 'string' THEN p.c->>k.key ELSE (p.c->k.key)::text END,
                                CASE WHEN jsonb_typeof(p.d->k.key) = 'string' THEN p.d->>k.key ELSE (p.d->k.key)::text END)
               END
        FROM pairs AS p
        CROSS JOIN (VALUES (1, 'slug', 'slug'), (2, 'stepType', 'type'), (3, 'dependencies', 'dependencies'),
                           (4, 'whenUnmet', 'whenUnmet'), (5, 'whenExhausted', 'whenExhausted'),
                           (6, 'requiredInputPattern', 'requiredInputPattern'),
                           (7, 'forbiddenInputPattern', 'forbiddenInputPattern')) AS k(n, key, label)
        WHERE p.c IS NOT NULL AND p.d IS NOT NULL AND p.c->k.key IS DISTINCT FROM p.d->k.key
    )
    SELECT coalesce(array_agg(line ORDER BY idx, n), '{}') FROM differences
$$;
