-- Add a step to a flow (idempotent: a step that already exists is returned unchanged).
-- Dependencies must already be steps of the flow, so steps are added in topological order
-- and step_index (the insertion order) is a valid execution order. A map step has at most
-- one dependency: the step whose output array it maps (none = it maps the run input).
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
    v_deps text[];
    v_step pgflow.steps;
BEGIN
    -- serialize definitions of one flow (step_index is max + 1)
    PERFORM 1 FROM pgflow.flows AS f WHERE f.flow_slug = add_step.flow_slug FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', add_step.flow_slug),
            HINT = format('Create the flow first: SELECT pgflow.create_flow(%L).', add_step.flow_slug);
    END IF;

    SELECT coalesce(array_agg(DISTINCT d), '{}') INTO v_deps
    FROM unnest(coalesce(add_step.deps_slugs, '{}')) AS d;

    PERFORM pgflow._check_step_definition(
        add_step.flow_slug, add_step.step_slug, v_deps, add_step.step_type,
        add_step.required_input_pattern, add_step.forbidden_input_pattern,
        add_step.when_unmet, add_step.when_exhausted);
    PERFORM pgflow._check_options(format('step %s.%s', add_step.flow_slug, add_step.step_slug),
                                  add_step.max_attempts, add_step.base_delay, add_step.timeout,
                                  add_step.start_delay);

    SELECT s.* INTO v_step FROM pgflow.steps AS s
    WHERE s.flow_slug = add_step.flow_slug AND s.step_slug = add_step.step_slug;
    IF FOUND THEN
        RETURN v_step;
    END IF;

    INSERT INTO pgflow.steps (flow_slug, step_slug, step_type, step_index, deps_count,
                              opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
                              required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted)
    SELECT add_step.flow_slug, add_step.step_slug, add_step.step_type,
           coalesce(max(s.step_index) + 1, 0), cardinality(v_deps),
           add_step.max_attempts, add_step.base_delay, add_step.timeout, add_step.start_delay,
           add_step.required_input_pattern, add_step.forbidden_input_pattern,
           add_step.when_unmet, add_step.when_exhausted
    FROM pgflow.steps AS s
    WHERE s.flow_slug = add_step.flow_slug
    RETURNING * INTO v_step;

    INSERT INTO pgflow.deps (flow_slug, dep_slug, step_slug)
    SELECT add_step.flow_slug, d, add_step.step_slug
    FROM unnest(v_deps) AS d;

    RETURN v_step;
END;
$$;
