-- Raise PF004 unless `p_slug` is a valid slug; `p_what` names it in the message ("flow slug").
CREATE OR REPLACE FUNCTION pgflow._check_slug(p_what text, p_slug text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow.is_valid_slug(p_slug) THEN
        PERFORM pgflow._definition_error(format('invalid %s %L', p_what, p_slug),
            'A slug starts with a letter or underscore, continues with letters, digits or underscores, '
            || 'has at most 128 characters and is not "run".');
    END IF;
END;
$$;
