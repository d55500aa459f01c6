-- How _compare_flow_shapes shows a shape value: arrays as [a, b], patterns as
-- "not defined" or their JSON, everything else as JSON text.
CREATE OR REPLACE FUNCTION pgflow._shape_value_text(p_value jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE
        WHEN jsonb_typeof(p_value) = 'array'
            THEN '[' || (SELECT coalesce(string_agg(e, ', '), '') FROM jsonb_array_elements_text(p_value) AS e) || ']'
        WHEN jsonb_typeof(p_value) = 'object' AND p_value ? 'defined'
            THEN CASE WHEN (p_value->>'defined')::boolean THEN (p_value->'value')::text ELSE 'not defined' END
        ELSE p_value::text
    END
$$;
