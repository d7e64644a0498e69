-- The community's mode is the one source of truth every Discord change is checked against
-- (the gate). Saving a manifest did not set it, so communities kept their default 'shadow'
-- while the deployed manifest said 'exclusive' or 'parallel'. Take each community's mode
-- from its newest manifest. The migrations run as arrakis_owner, which sees every tenant.
UPDATE communities c
SET mode = latest.mode, updated_at = now()
FROM (
    SELECT DISTINCT ON (community_id) community_id, document->>'mode' AS mode
    FROM manifests
    ORDER BY community_id, version DESC
) latest
WHERE latest.community_id = c.community_id
  AND latest.mode IN ('shadow', 'parallel', 'primary', 'exclusive')
  AND c.mode <> latest.mode;

