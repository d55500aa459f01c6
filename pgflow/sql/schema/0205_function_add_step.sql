-- Add a step to a flow (idempotent: a step that already exists is returned unchanged), with the
-- rules of pgflow._add_step. The step's queue is the flow's, lower(flow_slug). A flow with private step queues
-- (queue_mode 'step') takes no steps one by one: compile its whole definition instead.
CREATE OR REPLACE FUNCTION pgflow.add_step(
    flow_slug text,
    step_slug text,
    deps_slugs text[] DEFAULT '{}',
    max_attempts int DEFAULT NULL,
    base_delay int DEFAULT NULL,
    timeout int DEFAULT NULL,
    start_delay int DEFAULT NULL,
    step_type text DEFAULT 'single',
    required_input_pattern jsonb DEFAULT NULL,
    forbidden_input_pattern jsonb DEFAULT NULL,
    when_unmet text DEFAULT 'skip',
    when_exhausted text DEFAULT 'fail'
)
RETURNS pgflow.steps
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_queue_mode text;
BEGIN
    -- serialize definitions of one flow (step_index is max + 1), with every compiler's lock
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(add_step.flow_slug)));
    SELECT f.queue_mode INTO v_queue_mode FROM pgflow.flows AS f WHERE f.flow_slug = add_step.flow_slug;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', add_step.flow_slug),
            HINT = format('Create the flow first: SELECT pgflow.create_flow(%L).', add_step.flow_slug);
    END IF;
    IF v_queue_mode = 'step' THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" uses per-step queues: steps cannot be added incrementally.', add_step.flow_slug),
            DETAIL = 'A flow with private step queues is defined only by compiling its whole definition.',
            HINT = 'Compile the complete flow (ensure_flow_compiled with queue_mode ''step'') instead.';
    END IF;
    RETURN pgflow._add_step(add_step.flow_slug, add_step.step_slug, lower(add_step.flow_slug), add_step.deps_slugs,
                            add_step.max_attempts, add_step.base_delay, add_step.timeout, add_step.start_delay,
                            add_step.step_type, add_step.required_input_pattern, add_step.forbidden_input_pattern,
                            add_step.when_unmet, add_step.when_exhausted);
END;
$$;
