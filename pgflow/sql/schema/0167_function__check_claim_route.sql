-- The queue rules of a claim (start_tasks, claim_tasks), checked before anything is claimed.
-- The flow is p_flow_slug, or (when NULL, as claim_tasks calls it) the flow that owns queue
-- p_queue_name. Returns false when there is no such flow (nothing can be claimed). A flow with
-- private step queues (queue_mode 'step') needs p_step_slug, and that step must route to
-- p_queue_name exactly; a flow with one queue (queue_mode 'flow') takes no step selector.
-- The messages are upstream pgflow's (callers match on them).
CREATE OR REPLACE FUNCTION pgflow._check_claim_route(p_flow_slug text, p_queue_name text, p_step_slug text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text := p_flow_slug;
    v_queue_mode text;
    v_routed boolean;
BEGIN
    IF v_flow_slug IS NULL THEN
        SELECT s.flow_slug INTO v_flow_slug FROM pgflow.steps AS s WHERE s.queue_name = p_queue_name LIMIT 1;
    END IF;
    SELECT f.queue_mode,
           EXISTS (SELECT 1 FROM pgflow.steps AS s
                    WHERE s.flow_slug = f.flow_slug AND s.step_slug = p_step_slug AND s.queue_name = p_queue_name)
      INTO v_queue_mode, v_routed
      FROM pgflow.flows AS f
     WHERE f.flow_slug = v_flow_slug;
    IF v_queue_mode IS NULL THEN
        RETURN false;
    END IF;
    IF v_queue_mode = 'step' THEN
        IF p_step_slug IS NULL THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Flow "%s" uses per-step queues: an exact step_slug is required to claim tasks.',
                                 v_flow_slug),
                DETAIL = format('Queue "%s" is one step''s private queue.', p_queue_name),
                HINT = 'Pass the slug of the step whose queue was read.';
        END IF;
        IF NOT v_routed THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Step "%s" does not route to queue "%s" in flow "%s".',
                                 p_step_slug, p_queue_name, v_flow_slug),
                HINT = 'Read the queue stored for the step (pgflow.steps.queue_name) and pass that exact name.';
        END IF;
    ELSIF p_step_slug IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" uses the default flow queue: a step selector is not allowed.', v_flow_slug),
            DETAIL = format('Step "%s" was given, but the flow''s steps share one queue.', p_step_slug),
            HINT = 'Leave step_slug NULL to claim any step''s tasks.';
    END IF;
    RETURN true;
END;
$$;
