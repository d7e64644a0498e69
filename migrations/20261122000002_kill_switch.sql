-- The kill switch: a global flag that freezes every synthesis until lifted. Per-guild freezing
-- uses communities.frozen. Not tenant data: only the service role reads and writes it.
CREATE TABLE kill_switch (
    scope      text PRIMARY KEY CHECK (scope = 'global'),
    frozen     boolean NOT NULL,
    reason     text NOT NULL DEFAULT '',
    set_by     text NOT NULL DEFAULT '',
    set_at     timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON kill_switch TO arrakis_service;
