-- A stored input pattern as FlowShape writes it: {"defined": false} or
-- {"defined": true, "value": <pattern>}.
CREATE OR REPLACE FUNCTION pgflow._shape_pattern(p_pattern jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN p_pattern IS NULL THEN jsonb_build_object('defined', false)
                ELSE jsonb_build_object('defined', true, 'value', p_pattern) END
$$;
