-- Define a flow (idempotent). NULL options take the defaults 3 attempts, 5 s base delay and
-- 60 s timeout. A flow that already exists keeps its options: the row is returned unchanged.
-- The flow's pgmq queue (named after the flow) is created when missing.
CREATE OR REPLACE FUNCTION pgflow.create_flow(
    flow_slug text,
    max_attempts int DEFAULT NULL,
    base_delay int DEFAULT NULL,
    timeout int DEFAULT NULL
)
RETURNS pgflow.flows
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow pgflow.flows;
BEGIN
    PERFORM pgflow._check_slug('flow slug', create_flow.flow_slug);
    IF length(create_flow.flow_slug) > 47 THEN
        PERFORM pgflow._definition_error(
            format('flow slug %L is %s characters long; its pgmq queue name allows at most 47',
                   create_flow.flow_slug, length(create_flow.flow_slug)),
            'Choose a flow slug of at most 47 characters.');
    END IF;
    PERFORM pgflow._check_options('flow ' || create_flow.flow_slug,
                                  create_flow.max_attempts, create_flow.base_delay, create_flow.timeout, NULL);

    INSERT INTO pgflow.flows AS f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
    VALUES (create_flow.flow_slug,
            coalesce(create_flow.max_attempts, 3),
            coalesce(create_flow.base_delay, 5),
            coalesce(create_flow.timeout, 60))
    ON CONFLICT ON CONSTRAINT flows_pkey DO UPDATE SET flow_slug = f.flow_slug
    RETURNING f.* INTO v_flow;

    IF NOT EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE q.queue_name = create_flow.flow_slug) THEN
        PERFORM pgmq.create(create_flow.flow_slug);
    END IF;
    RETURN v_flow;
END;
$$;
