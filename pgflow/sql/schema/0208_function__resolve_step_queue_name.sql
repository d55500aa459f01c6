-- The private queue of a step of a flow with step queues: lower(flow_slug || '__' || step_slug)
-- when that fits pgmq's 47 characters, else lower(flow_slug || '__' || step_index). Raises when
-- neither fits (the messages are upstream pgflow's).
CREATE OR REPLACE FUNCTION pgflow._resolve_step_queue_name(p_flow_slug text, p_step_slug text, p_step_index int)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_by_slug text := lower(p_flow_slug || '__' || p_step_slug);
    v_by_index text := lower(p_flow_slug || '__' || p_step_index);
    v_shortest text := lower(p_flow_slug || '__0');
BEGIN
    IF length(v_by_slug) <= 47 THEN
        RETURN v_by_slug;
    END IF;
    IF length(v_shortest) > 47 THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" cannot use per-step queues.', p_flow_slug),
            DETAIL = format('Even its shortest step queue name "%s" has %s characters; pgmq allows 47.',
                            v_shortest, length(v_shortest)),
            HINT = 'Use a shorter flow slug, or keep the flow on one queue.';
    END IF;
    IF length(v_by_index) <= 47 THEN
        RETURN v_by_index;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = format('Cannot derive a queue for step "%s" at index %s in flow "%s".',
                         p_step_slug, p_step_index, p_flow_slug),
        DETAIL = format('"%s" has %s characters and "%s" has %s; pgmq allows 47.',
                        v_by_slug, length(v_by_slug), v_by_index, length(v_by_index)),
        HINT = 'Use a shorter flow slug or step slug, or keep the flow on one queue.';
END;
$$;
