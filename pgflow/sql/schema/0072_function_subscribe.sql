-- Follow a pgflow event channel from this session: LISTEN on it and register, so that engine
-- functions NOTIFY on it. Channels: 'pgflow:events' (every run) or 'pgflow:run:<run_id>', or
-- the same with ':steps' appended: their run and step events only, no task events.
-- Like LISTEN, it takes effect when the transaction commits.
--
-- A change committed by a transaction that was already running when the subscription committed
-- may have decided not to notify. Before reading the state a subscriber builds on, call
-- pgflow.await_event_writers() (in a later transaction): it returns once those transactions have
-- ended, so the read sees their changes. Subscribing in the transaction that starts a run (as
-- start_flow_sync does) needs no such wait: no event of that run can precede it.
CREATE OR REPLACE FUNCTION pgflow.subscribe(channel text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF subscribe.channel IS NULL
       OR NOT (subscribe.channel IN ('pgflow:events', 'pgflow:events:steps') OR subscribe.channel LIKE 'pgflow:run:%') THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('%L is not a pgflow event channel', subscribe.channel),
            HINT = 'Subscribe to ''pgflow:events'' (every run) or ''pgflow:run:<run_id>'' (one run); '
                   'append '':steps'' for their run and step events only.';
    END IF;
    PERFORM pgflow._forget_gone_subscribers();
    INSERT INTO pgflow.subscribers (channel, pid, backend_start)
    SELECT subscribe.channel, a.pid, a.backend_start
      FROM pg_catalog.pg_stat_activity AS a
     WHERE a.pid = pg_catalog.pg_backend_pid()
    ON CONFLICT ON CONSTRAINT subscribers_pkey
    DO UPDATE SET backend_start = excluded.backend_start, subscribed_at = excluded.subscribed_at;
    EXECUTE format('LISTEN %I', subscribe.channel);
END;
$$;
