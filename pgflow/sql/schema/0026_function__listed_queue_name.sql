-- The spelling under which pgmq lists a queue whose name matches p_queue_name ignoring case
-- (pgmq.drop_queue needs it exactly; other pgmq calls lower-case names themselves). A name pgmq
-- does not list is returned as given; two listed spellings of one name raise (ambiguous_alias):
-- someone created them by hand, and dropping either could be wrong.
CREATE OR REPLACE FUNCTION pgflow._listed_queue_name(p_queue_name text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_listed text[];
BEGIN
    SELECT array_agg(q.queue_name ORDER BY q.queue_name) INTO v_listed
      FROM pgmq.list_queues() AS q
     WHERE lower(q.queue_name) = lower(p_queue_name);
    IF v_listed IS NULL THEN
        RETURN p_queue_name;
    END IF;
    IF cardinality(v_listed) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'ambiguous_alias',
            MESSAGE = format('queue name "%s" is ambiguous: it matches listed queues %s', p_queue_name, v_listed),
            HINT = 'Drop the queue spelling nobody uses with pgmq.drop_queue, then retry.';
    END IF;
    RETURN v_listed[1];
END;
$$;
