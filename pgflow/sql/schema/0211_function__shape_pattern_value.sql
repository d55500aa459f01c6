-- The pattern inside a FlowShape wrapper ({"defined": true, "value": ...}); NULL when not defined.
CREATE OR REPLACE FUNCTION pgflow._shape_pattern_value(p_wrapped jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN jsonb_typeof(p_wrapped) = 'object' AND (p_wrapped->>'defined')::boolean
                THEN p_wrapped->'value' END
$$;
