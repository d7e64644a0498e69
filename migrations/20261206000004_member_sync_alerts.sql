-- The breaker's alert for each held batch: the decision (from its buttons, the CLI or a
-- rollback that deleted the roles) edits it to say how the batch ended and takes its buttons
-- away, so no message in the operator's channel offers a decision that is already made.
CREATE TABLE member_sync_alerts (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    batch        text NOT NULL,
    channel_id   bigint NOT NULL,
    message_id   bigint NOT NULL,
    content      text NOT NULL,
    posted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, batch)
);

SELECT arrakis_guard_tenant_table('member_sync_alerts'::regclass);
