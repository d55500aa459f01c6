-- Raise PF004 (invalid flow definition): the message says what is wrong, the hint what to do.
CREATE OR REPLACE FUNCTION pgflow._definition_error(p_message text, p_hint text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PF004', MESSAGE = p_message, HINT = p_hint;
END;
$$;
