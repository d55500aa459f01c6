-- pgflow-py migration 0020_event_channels: drafted by scripts/build_migration.py from the schema files changed since 2b3aa49

-- 0070_function__emit.sql
-- Publish one state-change event. Every engine function calls this, so events come from the
-- database whichever worker (Python, TypeScript, Elixir) drove the change, and NOTIFY delivers
-- them only when the transaction commits.
--
-- Channels: 'pgflow:run:<run_id>' (one run) and 'pgflow:events' (every run); run and step events
-- (never task events) also on 'pgflow:run:<run_id>:steps' and 'pgflow:events:steps', so that a
-- listener that needs no task events is not sent a map's thousands of them. Each only while
-- some session follows it (pgflow.subscribe(), a row in pgflow.subscribers): a transaction that
-- NOTIFYs takes a database-wide lock while it commits, which serialises concurrent workers'
-- commits, so events nobody follows are not sent.
-- The payload is the given object plus "ts" (clock time of the change). A payload that would
-- not fit NOTIFY's 8000-byte limit loses its large fields ("input", "output", "error_message")
-- and lists them in "truncated", telling the subscriber to fetch them from the tables.
-- When a Supabase-style realtime.send(jsonb, text, text, boolean) exists, the event is also
-- broadcast on topic 'pgflow:run:<run_id>' under pgflow's event names.
-- Setting pgflow.events (per session, role or database): 'off' silences events; 'always' sends
-- them on both channels whether or not anyone subscribed (for plain LISTEN clients).
CREATE OR REPLACE FUNCTION pgflow._emit(p_payload jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_payload jsonb;
    v_text text;
    v_event text := p_payload->>'event_type';
    v_topic text := 'pgflow:run:' || (p_payload->>'run_id');
    v_mode text := coalesce(current_setting('pgflow.events', true), '');
    v_to_run boolean := v_mode = 'always';
    v_to_all boolean := v_mode = 'always';
    v_steps boolean := v_event NOT LIKE 'task:%';
    v_to_run_steps boolean := v_mode = 'always' AND v_steps;
    v_to_all_steps boolean := v_mode = 'always' AND v_steps;
BEGIN
    IF v_mode = 'off' THEN
        RETURN;
    END IF;
    IF NOT v_to_all THEN
        SELECT coalesce(bool_or(s.channel = v_topic), false), coalesce(bool_or(s.channel = 'pgflow:events'), false),
               coalesce(bool_or(s.channel = v_topic || ':steps'), false),
               coalesce(bool_or(s.channel = 'pgflow:events:steps'), false)
          INTO v_to_run, v_to_all, v_to_run_steps, v_to_all_steps
          FROM pgflow.subscribers AS s
         WHERE s.channel IN (v_topic, 'pgflow:events')
            OR (v_steps AND s.channel IN (v_topic || ':steps', 'pgflow:events:steps'));
    END IF;
    IF v_to_run OR v_to_all OR v_to_run_steps OR v_to_all_steps THEN
        v_payload := p_payload || jsonb_build_object('ts', clock_timestamp());
        v_text := v_payload::text;
        IF octet_length(v_text) > 7900 THEN
            v_payload := (v_payload - 'input' - 'output' - 'error_message')
                || jsonb_build_object('truncated',
                       (SELECT coalesce(jsonb_agg(k), '[]'::jsonb)
                        FROM unnest(ARRAY['input', 'output', 'error_message']) AS k
                        WHERE v_payload ? k));
            v_text := v_payload::text;
        END IF;
        IF v_to_run THEN
            PERFORM pg_notify(v_topic, v_text);
        END IF;
        IF v_to_all THEN
            PERFORM pg_notify('pgflow:events', v_text);
        END IF;
        IF v_to_run_steps THEN
            PERFORM pg_notify(v_topic || ':steps', v_text);
        END IF;
        IF v_to_all_steps THEN
            PERFORM pg_notify('pgflow:events:steps', v_text);
        END IF;
    END IF;

    -- pgflow-py's own events (task:*, run:cancelled) are not broadcast: upstream's client does not know them
    IF v_event NOT LIKE 'task:%' AND v_event <> 'run:cancelled'
       AND to_regprocedure('realtime.send(jsonb,text,text,boolean)') IS NOT NULL THEN
        EXECUTE 'SELECT realtime.send($1, $2, $3, false)'
        USING p_payload,
              CASE WHEN v_event LIKE 'step:%'
                   THEN 'step:' || (p_payload->>'step_slug') || ':' || split_part(v_event, ':', 2)
                   ELSE v_event END,
              v_topic;
    END IF;
END;
$$;

-- 0072_function_subscribe.sql
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

