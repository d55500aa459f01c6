-- The structural differences between the shape a worker's code declares (`p_code`) and the
-- shape stored in the database (`p_database`), one readable line each; empty when they match.
-- Compared per position: step count, slug, stepType, dependencies, whenUnmet, whenExhausted
-- and both input patterns. Numeric options are not structural and are not compared.
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
               format('step count differs: %s in code, %s in database',
                      (SELECT count(*) FROM code), (SELECT count(*) FROM db)) AS line
        WHERE (SELECT count(*) FROM code) <> (SELECT count(*) FROM db)
        UNION ALL
        SELECT idx, 0, CASE WHEN c IS NULL
                            THEN format('step %s: %s exists only in the database', idx, d->'slug')
                            ELSE format('step %s: %s exists only in code', idx, c->'slug') END
        FROM pairs
        WHERE c IS NULL OR d IS NULL
        UNION ALL
        SELECT p.idx, k.n,
               format('step %s %s: %s %s in code, %s in database',
                      p.idx, p.c->'slug', k.key, pgflow._shape_value_text(p.c->k.key),
                      pgflow._shape_value_text(p.d->k.key))
        FROM pairs AS p
        CROSS JOIN (VALUES (1, 'slug'), (2, 'stepType'), (3, 'dependencies'), (4, 'whenUnmet'),
                           (5, 'whenExhausted'), (6, 'requiredInputPattern'),
                           (7, 'forbiddenInputPattern')) AS k(n, key)
        WHERE p.c IS NOT NULL AND p.d IS NOT NULL AND p.c->k.key IS DISTINCT FROM p.d->k.key
    )
    SELECT coalesce(array_agg(line ORDER BY idx, n), '{}') FROM differences
$$;
