-- Seconds to wait before the next attempt after `attempts_count` attempts: base * 2^attempts.
CREATE OR REPLACE FUNCTION pgflow.calculate_retry_delay(base_delay numeric, attempts_count int)
RETURNS int
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT floor(base_delay * power(2, attempts_count))::int
$$;
