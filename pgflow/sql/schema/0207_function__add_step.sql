-- The insert behind add_step and the compilation of flows with private step queues: add step
-- p_step_slug, whose tasks go to queue p_queue_name, to an existing flow (idempotent: a step that
-- already exists is returned unchanged). Dependencies must already be steps of the flow, so
-- steps are added in topological order and step_index (the insertion order) is a valid execution
-- order. A map step has at most one dependency: the step whose output array it maps (none = it
-- maps the run input). Step slugs of a flow differ in more than case. A flow has at most 1,000
-- steps (pgflow-py's cap; upstream has none). The caller holds the flow's advisory lock.
CREATE OR REPLACE FUNCTION pgflow._add_step(
    p_flow_slug text,
    p_step_slug text,
    p_queue_name text,
    p_deps_slugs text[],
    p_max_attempts int,
    p_base_delay int,
    p_timeout int,
    p_start_delay int,
    p_step_type text,
    p_required_input_pattern jsonb,
    p_forbidden_input_pattern jsonb,
    p_when_unmet text,
    p_when_exhausted text
)
RETURNS pgflow.steps
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_deps text[];
    v_step pgflow.steps;
    v_other text;
BEGIN
    SELECT coalesce(array_agg(DISTINCT d), '{}') INTO v_deps
    FROM unnest(coalesce(p_deps_slugs, '{}')) AS d;

    PERFORM pgflow._check_step_definition(
        p_flow_slug, p_step_slug, v_deps, p_step_type,
        p_required_input_pattern, p_forbidden_input_pattern,
        p_when_unmet, p_when_exhausted);
    PERFORM pgflow._check_options(format('step %s.%s', p_flow_slug, p_step_slug),
                                  p_max_attempts, p_base_delay, p_timeout,
                                  p_start_delay);

    SELECT s.step_slug INTO v_other FROM pgflow.steps AS s
     WHERE s.flow_slug = p_flow_slug AND lower(s.step_slug) = lower(p_step_slug) AND s.step_slug <> p_step_slug;
    IF FOUND THEN
        PERFORM pgflow._definition_error(
            format('step %s.%s differs from step %s only in case', p_flow_slug, p_step_slug, v_other),
            'Step slugs of a flow must differ in more than case: rename one of them.');
    END IF;

    SELECT s.* INTO v_step FROM pgflow.steps AS s
    WHERE s.flow_slug = p_flow_slug AND s.step_slug = p_step_slug;
    IF FOUND THEN
        RETURN v_step;
    END IF;

    IF (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug) >= 1000 THEN
        PERFORM pgflow._definition_error(
            format('flow %s already has 1000 steps, the most a flow can have: step %s is refused', p_flow_slug, p_step_slug),
            'Do many similar units of work as one map step (one task per item), or split the flow.');
    END IF;

    INSERT INTO pgflow.steps (flow_slug, step_slug, queue_name, step_type, step_index, deps_count,
                              opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
                              required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted)
    SELECT p_flow_slug, p_step_slug, p_queue_name, p_step_type,
           coalesce(max(s.step_index) + 1, 0), cardinality(v_deps),
           p_max_attempts, p_base_delay, p_timeout, p_start_delay,
           p_required_input_pattern, p_forbidden_input_pattern,
           p_when_unmet, p_when_exhausted
    FROM pgflow.steps AS s
    WHERE s.flow_slug = p_flow_slug
    RETURNING * INTO v_step;

    INSERT INTO pgflow.deps (flow_slug, dep_slug, step_slug)
    SELECT p_flow_slug, d, p_step_slug
    FROM unnest(v_deps) AS d;

    RETURN v_step;
END;
$$;
