-- Wait until every transaction that may have emitted an event without seeing a subscription
-- that has since committed has ended: the transactions that had looked at pgflow.subscribers
-- (each event does) when this call started. Call it after pgflow.subscribe() has committed and
-- before reading the state the events will update; then nothing falls between the read and the
-- events. Nobody is blocked while it waits (it polls pg_locks every millisecond).
-- Returns true, or false when some of them still run after timeout_seconds (e.g. a session
-- idle in a transaction): their changes, if any, may then arrive without an event.
CREATE OR REPLACE FUNCTION pgflow.await_event_writers(timeout_seconds double precision DEFAULT 5)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + make_interval(secs => await_event_writers.timeout_seconds);
    v_waiting text[];
BEGIN
    LOOP
        v_waiting := ARRAY(
            SELECT l.virtualtransaction
              FROM pg_catalog.pg_locks AS l
             WHERE l.locktype = 'relation'
               AND l.relation = 'pgflow.subscribers'::regclass
               AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                                  WHERE d.datname = pg_catalog.current_database())
               AND l.pid <> pg_catalog.pg_backend_pid()
               AND (v_waiting IS NULL OR l.virtualtransaction = ANY (v_waiting)));
        IF cardinality(v_waiting) = 0 THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > v_deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.001);
    END LOOP;
END;
$$;
