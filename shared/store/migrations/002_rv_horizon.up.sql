-- Watch order. A resourceVersion is drawn when a transaction writes, but transactions
-- commit in any order, so "every change after rv N" read at one instant can miss a
-- change with a smaller rv that commits later. next_rv() and rv_horizon() close that gap
-- without serialising writers:
--   * a writing transaction, before it draws its first rv, takes a shared advisory lock
--     (held to its end, visible to every session at once in pg_locks) whose key carries
--     this schema and the sequence's value at that moment: a floor below every rv the
--     transaction will draw;
--   * rv_horizon() reads the sequence and then the floors of the transactions still open:
--     every rv at or below the smaller of the two is committed (and so visible to the
--     next statement) or will never be.
-- The watch cache reads the change log up to the horizon, so it never skips a change.
-- The lock key is (rv_lock_class(), low 32 bits of the floor); the reader takes the high
-- bits from the sequence (an open transaction's floor is within 2^32 of it).
CREATE OR REPLACE FUNCTION rv_lock_class() RETURNS int4 LANGUAGE sql STABLE AS $$
    SELECT (('resource_version_seq'::regclass::oid::bigint + 2147483648) % 4294967296 - 2147483648)::int4
$$;

CREATE OR REPLACE FUNCTION next_rv() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    f bigint;
BEGIN
    IF coalesce(current_setting('podwarden.rv_floor', true), '') = '' THEN
        SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO f FROM resource_version_seq;
        PERFORM pg_advisory_xact_lock_shared(rv_lock_class(), ((f % 4294967296) - 2147483648)::int4);
        PERFORM set_config('podwarden.rv_floor', f::text, true);
    END IF;
    RETURN nextval('resource_version_seq');
END
$$;

CREATE OR REPLACE FUNCTION rv_horizon() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    s bigint;
    f bigint;
BEGIN
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO s FROM resource_version_seq;
    SELECT min(s - ((s % 4294967296) - ((objid::bigint + 2147483648) % 4294967296) + 4294967296) % 4294967296)
      INTO f
      FROM pg_locks
     WHERE locktype = 'advisory' AND objsubid = 2
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid::bigint = (rv_lock_class()::bigint + 4294967296) % 4294967296;
    RETURN least(s, coalesce(f, s));
END
$$;
