-- Define a flow (idempotent). NULL options take the defaults 3 attempts, 5 s base delay and
-- 60 s timeout. A flow that already exists keeps its options: the row is returned unchanged.
-- The flow's pgmq queue, lower(flow_slug), is created when pgmq lists it in no spelling (a flow
-- with private step queues gets none). A new flow whose queue pgmq already lists belongs to
-- someone else's queue and is refused (unique_violation), as is a slug differing from an
-- existing flow's only in case. Definitions of one flow are serialized by the advisory lock
-- (1, hashtext(lower(flow_slug))), upstream's key, so compilers in any language take turns.
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
    v_other text;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(create_flow.flow_slug)));
    PERFORM pgflow._check_slug('flow slug', create_flow.flow_slug);
    IF length(create_flow.flow_slug) > 47 THEN
        PERFORM pgflow._definition_error(
            format('flow slug %L is %s characters long; its pgmq queue name allows at most 47',
                   create_flow.flow_slug, length(create_flow.flow_slug)),
            'Choose a flow slug of at most 47 characters.');
    END IF;
    PERFORM pgflow._check_options('flow ' || create_flow.flow_slug,
                                  create_flow.max_attempts, create_flow.base_delay, create_flow.timeout, NULL);

    SELECT f.flow_slug INTO v_other FROM pgflow.flows AS f
     WHERE lower(f.flow_slug) = lower(create_flow.flow_slug) AND f.flow_slug <> create_flow.flow_slug;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation',
            MESSAGE = format('cannot create flow "%s": flow "%s" differs from it only in case and owns queue "%s"',
                             create_flow.flow_slug, v_other, lower(create_flow.flow_slug)),
            HINT = format('Use the existing slug "%s", or choose a slug that differs in more than case.', v_other);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = create_flow.flow_slug)
       AND EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(create_flow.flow_slug)) THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation',
            MESSAGE = format('cannot create flow "%s": queue "%s" is already in use by another owner',
                             create_flow.flow_slug, lower(create_flow.flow_slug)),
            HINT = 'Choose another flow slug, or drop the queue (pgmq.drop_queue) if nothing uses it.';
    END IF;

    INSERT INTO pgflow.flows AS f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
    VALUES (create_flow.flow_slug,
            coalesce(create_flow.max_attempts, 3),
            coalesce(create_flow.base_delay, 5),
            coalesce(create_flow.timeout, 60))
    ON CONFLICT ON CONSTRAINT flows_pkey DO UPDATE SET flow_slug = f.flow_slug
    RETURNING f.* INTO v_flow;

    IF v_flow.queue_mode = 'flow'
       AND NOT EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(create_flow.flow_slug)) THEN
        PERFORM pgmq.create(lower(create_flow.flow_slug));
    END IF;
    RETURN v_flow;
END;
$$;
