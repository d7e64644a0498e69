-- A migration's stage is one the workflow knows (`MigrationStage::as_str`): a write with any
-- other word fails here rather than leave a row that no status or rollback reads right.
ALTER TABLE migrations
    ADD CONSTRAINT migrations_stage_known CHECK (stage IN (
        'checking_readiness', 'not_ready', 'preparing', 'migrating', 'completed', 'rolling_back', 'rolled_back'
    ));
