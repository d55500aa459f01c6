-- Whether flow p_flow_slug may use queue p_queue_name as a private step queue: true when the
-- queue must still be created, false when the flow already owns it (one of its steps routes to
-- it and pgmq lists it). Raises when another flow routes to it or has it as its default queue,
-- when pgmq lists it in several spellings, when pgmq lists it but the flow does not own it, and
-- when the flow owns it but pgmq no longer lists it (someone dropped it). The messages are
-- upstream pgflow's.
CREATE OR REPLACE FUNCTION pgflow._assert_step_queue_available(p_flow_slug text, p_queue_name text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_owner text;
    v_listed text[];
BEGIN
    SELECT s.flow_slug INTO v_owner FROM pgflow.steps AS s
     WHERE s.queue_name = p_queue_name AND lower(s.flow_slug) <> lower(p_flow_slug)
     LIMIT 1;
    IF v_owner IS NULL THEN
        SELECT f.flow_slug INTO v_owner FROM pgflow.flows AS f
         WHERE f.queue_mode = 'flow' AND lower(f.flow_slug) = p_queue_name AND lower(f.flow_slug) <> lower(p_flow_slug)
         LIMIT 1;
    END IF;
    IF v_owner IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('cannot create flow "%s": queue "%s" is already used by another flow ("%s")',
                             p_flow_slug, p_queue_name, v_owner),
            HINT = 'Use another flow slug, or delete the other flow first.';
    END IF;

    SELECT array_agg(q.queue_name ORDER BY q.queue_name) INTO v_listed
      FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = p_queue_name;
    IF cardinality(v_listed) > 1 THEN
        RAISE EXCEPTION USING
            MESSAGE = format('queue "%s" matches multiple listed PGMQ queues (%s)', p_queue_name, v_listed),
            HINT = 'Drop the spelling nothing uses (pgmq.drop_queue), then retry.';
    END IF;

    IF EXISTS (SELECT 1 FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug AND s.queue_name = p_queue_name) THEN
        IF v_listed IS NULL THEN
            RAISE EXCEPTION USING
                MESSAGE = format('queue "%s" owned by flow "%s" is not listed in PGMQ', p_queue_name, p_flow_slug),
                DETAIL = 'pgflow never drops a queue it owns by itself; something else dropped it, and the '
                         || 'flow''s tasks still name messages of that queue.',
                HINT = 'Find out why the queue went away; if its messages are not needed, delete the flow '
                       || '(pgflow.delete_flow_and_data) and compile it again.';
        END IF;
        RETURN false;
    END IF;
    IF v_listed IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('cannot create flow "%s": queue "%s" is already listed in PGMQ and not owned by this flow',
                             p_flow_slug, p_queue_name),
            HINT = 'Drop that queue if nothing uses it, or use another flow slug.';
    END IF;
    RETURN true;
END;
$$;
