-- Rate limits (pgflow-py flow control) as GCRA, the "generic cell rate algorithm": a rate
-- {"count": n, "per": seconds} lets a start happen every per/n seconds on average, with a
-- tolerance of up to 0.4 s worth of starts (never more than n) so that a worker polling a few
-- times a second loses no start, while no period sees a burst at its edge. p_tat is the
-- scope's "theoretical arrival time" (epoch seconds; NULL: never started), p_now the time now.
-- Returns how many starts the rate allows now (0: none until tat - tolerance).
-- pgflow._admit_claims admits by it and moves tat by per/n per start; pgflow._claim_room reads
-- no more messages than it allows.
CREATE OR REPLACE FUNCTION pgflow._rate_room(p_rate jsonb, p_tat float8, p_now float8)
RETURNS int
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN g.t > p_now + g.tau THEN 0 ELSE floor((p_now + g.tau - g.t) / g.step)::int + 1 END
      FROM (SELECT s.step, least((s.n - 1) * s.step, 0.4) AS tau, greatest(coalesce(p_tat, p_now), p_now) AS t
              FROM (SELECT (p_rate->>'per')::float8 / (p_rate->>'count')::float8 AS step,
                           (p_rate->>'count')::float8 AS n) AS s) AS g;
$$;
