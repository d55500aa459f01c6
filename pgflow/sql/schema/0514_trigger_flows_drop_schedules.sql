-- pgflow-py addition: when a flow row is deleted, drop its schedules at commit unless the flow
-- was created again by then (pgflow._drop_schedules_of_deleted_flow). A constraint trigger,
-- because only those can wait for the end of the transaction. Schedules have no foreign key
-- to pgflow.flows: ON DELETE CASCADE would fire at once and take the schedules of a flow that
-- is only being recompiled.
CREATE CONSTRAINT TRIGGER flows_drop_schedules
    AFTER DELETE ON pgflow.flows
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    EXECUTE FUNCTION pgflow._drop_schedules_of_deleted_flow();
