-- Move the visibility time of several messages of one queue in one statement: message
-- msg_ids[i] becomes visible vt_offsets[i] seconds from now (clock time). Returns the updated
-- messages; ids that are not in the queue are left out. Both arrays must have the same length
-- (the error's text is upstream pgflow's; a missing array counts as length 0, where upstream
-- returns nothing).
-- The queue table is named through pgmq.format_table_name, so this follows pgmq's layout
-- (pgmq >= 1.5, which has the headers column).
CREATE OR REPLACE FUNCTION pgflow.set_vt_batch(queue_name text, msg_ids bigint[], vt_offsets int[])
RETURNS TABLE (msg_id bigint, read_ct int, enqueued_at timestamptz, vt timestamptz, message jsonb, headers jsonb)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF cardinality(msg_ids) IS DISTINCT FROM cardinality(vt_offsets) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('msg_ids length (%s) must equal vt_offsets length (%s)',
                             coalesce(cardinality(msg_ids), 0), coalesce(cardinality(vt_offsets), 0)),
            HINT = 'Pass exactly one visibility offset (seconds) per message id.';
    END IF;
    IF coalesce(cardinality(msg_ids), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'UPDATE pgmq.%I AS q
            SET vt = clock_timestamp() + make_interval(secs => v.vt_offset)
           FROM unnest($1, $2) AS v(msg_id, vt_offset)
          WHERE q.msg_id = v.msg_id
      RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
        pgmq.format_table_name(queue_name, 'q'))
    USING msg_ids, vt_offsets;
END;
$$;
