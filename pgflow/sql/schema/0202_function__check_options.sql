-- Reject option values the tables would refuse, with a message that names the flow or step.
-- NULL means "not given" and is always accepted.
CREATE OR REPLACE FUNCTION pgflow._check_options(
    p_owner text,
    p_max_attempts int,
    p_base_delay int,
    p_timeout int,
    p_start_delay int
)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_problem text;
BEGIN
    v_problem := CASE
        WHEN p_max_attempts < 0 THEN format('max_attempts must be 0 or more, got %s', p_max_attempts)
        WHEN p_base_delay < 0 THEN format('base_delay must be 0 or more seconds, got %s', p_base_delay)
        WHEN p_timeout <= 0 THEN format('timeout must be 1 or more seconds, got %s', p_timeout)
        WHEN p_start_delay < 0 THEN format('start_delay must be 0 or more seconds, got %s', p_start_delay)
    END;
    IF v_problem IS NOT NULL THEN
        PERFORM pgflow._definition_error(format('invalid option for %s: %s', p_owner, v_problem),
            'Pass NULL to use the default, or a value in the allowed range.');
    END IF;
END;
$$;
