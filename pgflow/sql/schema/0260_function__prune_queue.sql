-- Prune one pgmq queue: delete the still-active messages `p_msg_ids` (messages of pruned
-- runs' tasks, read from their queue snapshots) and the archived messages archived before
-- `p_cutoff`. Returns {"messages": n, "archived_messages": n}; zeros when pgmq lists no such
-- queue (in any spelling).
CREATE OR REPLACE FUNCTION pgflow._prune_queue(p_queue_name text, p_msg_ids bigint[], p_cutoff timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_messages int := 0;
    v_archived int := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(p_queue_name)) THEN
        IF cardinality(p_msg_ids) > 0 THEN
            SELECT count(*) INTO v_messages FROM pgmq.delete(p_queue_name, p_msg_ids);
        END IF;
        EXECUTE format('DELETE FROM pgmq.%I WHERE archived_at < $1', pgmq.format_table_name(p_queue_name, 'a'))
          USING p_cutoff;
        GET DIAGNOSTICS v_archived = ROW_COUNT;
    END IF;
    RETURN jsonb_build_object('messages', v_messages, 'archived_messages', v_archived);
END;
$$;
