-- Migration from an incumbent bot to Arrakis, its rollbacks, and the incumbent's health.
-- Every table is a tenant table under the same RLS policy as the rest.

-- One row per migration run. Member sync reads the active one (finished_at IS NULL) for who
-- is moved so far (`cohort`); rollback reads what existed before it (`kept_objects`), so it
-- deletes only what the migration added.
CREATE TABLE migrations (
    community_id     uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    migration_id     text NOT NULL,
    workflow_id      text NOT NULL,
    strategy         text NOT NULL CHECK (strategy IN ('instant', 'gradual', 'parallel_forever', 'arrakis_primary')),
    stage            text NOT NULL,
    from_mode        text NOT NULL CHECK (from_mode IN ('shadow', 'parallel', 'primary', 'exclusive')),
    previous_version integer NOT NULL,
    parallel_version integer,
    cohort           jsonb,
    kept_objects     jsonb NOT NULL DEFAULT '[]'::jsonb,
    forced_reason    text,
    started_by       text NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (community_id, migration_id)
);
-- At most one migration of a community is under way.
CREATE UNIQUE INDEX migrations_one_active ON migrations (community_id) WHERE finished_at IS NULL;

-- Every rollback: why, who (or `automatic`), and what each compensation did.
CREATE TABLE rollback_events (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    migration_id text NOT NULL,
    reason       text NOT NULL,
    actor        text NOT NULL,
    automatic    boolean NOT NULL,
    steps        jsonb NOT NULL DEFAULT '[]'::jsonb,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (community_id, migration_id),
    FOREIGN KEY (community_id, migration_id) REFERENCES migrations ON DELETE CASCADE
);

-- The incumbent's health as last checked, and the worst level the operator was told about
-- (so a finding is sent once, not every six hours).
ALTER TABLE communities
    ADD COLUMN incumbent_health          jsonb,
    ADD COLUMN incumbent_health_notified text CHECK (incumbent_health_notified IN ('alert', 'critical'));

SELECT arrakis_guard_tenant_table(t)
FROM unnest(ARRAY['migrations', 'rollback_events']::regclass[]) AS t;
