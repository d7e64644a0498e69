//! Member sync as the gateway sees it: `/arrakis sync` (a sweep now, or a dry run), the
//! breaker's Confirm and Discard buttons, and the lines `/arrakis status` shows.

use crate::temporal::{CallError, Workflows};
use arrakis_schemas::{
    GuildId, Lenient, Mode,
    temporal::{ConfirmRevocations, DiscardRevocations, MemberSyncNow, MemberSyncStatusQuery},
    workflows::{
        member_sync::{self, BUTTON_PREFIX, Decision, MemberSyncStatus, Phase, SweepRequest},
        migration::MigrationStatus,
    },
};

/// A breaker button's verb and batch, parsed from `ms:confirm:{batch}` / `ms:discard:{batch}`.
pub fn parse_button(custom_id: &str) -> Option<(bool, &str)> {
    let rest = custom_id.strip_prefix(BUTTON_PREFIX)?.strip_prefix(':')?;
    let (verb, batch) = rest.split_once(':')?;
    match verb {
        "confirm" => Some((true, batch)),
        "discard" => Some((false, batch)),
        _ => None,
    }
}

impl Workflows {
    /// `/arrakis sync`: a sweep of every member now (or a dry run).
    pub async fn sync_now(
        &self,
        guild_id: GuildId,
        actor: String,
        dry_run: bool,
        request_id: &str,
    ) -> Result<MemberSyncStatus, CallError> {
        let request = Lenient::new(&SweepRequest { actor, dry_run });
        let id = member_sync::workflow_id(guild_id);
        self.update("member_sync_now", id, MemberSyncNow, request, format!("sync-{request_id}")).await
    }

    /// The breaker's buttons: confirm or discard the held revocations.
    pub async fn decide_held(
        &self,
        guild_id: GuildId,
        confirm: bool,
        batch: &str,
        actor: String,
        request_id: &str,
    ) -> Result<MemberSyncStatus, CallError> {
        let decision = Lenient::new(&Decision {
            actor,
            reason: "from the operator channel's buttons".into(),
            batch: Some(batch.to_string()),
        });
        let (id, update_id) = (member_sync::workflow_id(guild_id), format!("held-{request_id}"));
        if confirm {
            self.update("member_sync_decide", id, ConfirmRevocations, decision, update_id).await
        } else {
            self.update("member_sync_decide", id, DiscardRevocations, decision, update_id).await
        }
    }

    /// The guild's member sync, if it runs.
    pub async fn member_sync_status(&self, guild_id: GuildId) -> Result<Option<MemberSyncStatus>, CallError> {
        self.query("member_sync_status", member_sync::workflow_id(guild_id), MemberSyncStatusQuery).await
    }
}

/// What `/arrakis sync` did, told from the status the `sync_now` update answered with.
pub fn sync_answer(status: &MemberSyncStatus, dry_run: bool) -> String {
    let what = if dry_run { "Dry-run sweep" } else { "Sweep" };
    if let Some(why) = &status.closed {
        return format!("{what} asked for, but nothing is written now ({why}): it runs when that ends.");
    }
    if let Some(p) = &status.paused {
        return format!(
            "{what} asked for; member sync is paused by {} ({}), so it runs after a resume.",
            p.by, p.reason
        );
    }
    if dry_run {
        "Dry-run sweep started: it counts what it would grant and revoke and changes nothing. \
         `/arrakis status` shows the result."
            .into()
    } else {
        "Sweep started: every member's roles are checked against their holdings now. \
         `/arrakis status` shows its progress."
            .into()
    }
}

/// "42 s", "3 min", "2 h": how long ago or how soon, for a status line.
fn span(ms: u64) -> String {
    match ms / 1000 {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3_600),
    }
}

/// The community's mode as `/arrakis status` shows it, from the freshest source that knows:
/// a running member sync (its plan reads the community's mode, and every publish re-plans),
/// else the migration (which writes the mode it moves to and the one a rollback restores);
/// `None` leaves it to shadow mode's view. A stopped sync's mode is the one before it stopped.
pub fn community_mode(sync: Option<&MemberSyncStatus>, migration: Option<&MigrationStatus>) -> Option<Mode> {
    sync.filter(|s| s.phase != Phase::Stopped).and_then(|s| s.mode).or_else(|| migration.and_then(|m| m.mode))
}

/// The member-sync lines of `/arrakis status` at `now_ms` (Unix ms): what waits, how long the
/// oldest write has waited, and why nothing moves when nothing does. A stopped sync says so
/// and nothing else: what it held when it stopped is not waiting any more.
pub fn status_lines(status: Option<&MemberSyncStatus>, now_ms: u64) -> String {
    let Some(s) = status else {
        return "Member roles: not synced (deploy with `/arrakis setup` to grant roles by holdings)\n".into();
    };
    if s.phase == Phase::Stopped {
        return "Member roles: stopped (by a rollback or an undeploy): no role is granted or revoked until a deploy \
                starts member sync again\n"
            .into();
    }
    let catching_up = s.queued > 0 || s.pending_writes > 0 || s.sweep_requested;
    let mut text = match (&s.phase, &s.closed, &s.paused) {
        (_, Some(why), _) => format!("Member roles: nothing is written ({why})\n"),
        (_, _, Some(p)) => format!("Member roles: paused by {} ({})\n", p.by, p.reason),
        (Phase::Sweeping, _, _) => "Member roles: sweeping every member now\n".to_string(),
        _ if catching_up => "Member roles: catching up (below), and watching the chains for transfers\n".to_string(),
        _ => "Member roles: in sync, watching the chains for transfers\n".to_string(),
    };
    if s.queued > 0 {
        text.push_str(&format!("Members waiting to be decided (links, transfers, events): {}\n", s.queued));
    }
    if s.sweep_requested && s.phase != Phase::Sweeping {
        text.push_str("A sweep of every member was asked for and starts next\n");
    }
    if s.pending_revocations > 0 {
        let next = match s.next_recheck_at_ms {
            Some(at) if at > now_ms => format!(" (next read in {})", span(at - now_ms)),
            Some(_) => " (reading now; a read at the same block waits for the next one)".to_string(),
            None => String::new(),
        };
        text.push_str(&format!(
            "Removals waiting for their confirming read at a later block: {}{next}\n",
            s.pending_revocations
        ));
    }
    if let Some(last) = &s.last_sweep {
        let t = &last.tally;
        text.push_str(&format!(
            "Last sweep{}: {} members ({} with wallets), {} granted, {} revoked, {} undecided (unknown)\n",
            if last.dry_run { " (dry run)" } else { "" },
            t.members,
            t.with_wallets,
            t.grants,
            t.revocations,
            t.unknown
        ));
    }
    if s.pending_writes > 0 {
        let oldest = s
            .oldest_write_at_ms
            .map(|at| format!(", the oldest queued {} ago", span(now_ms.saturating_sub(at))))
            .unwrap_or_default();
        let moving = if s.closed.is_some() || s.paused.is_some() {
            "held back (above)"
        } else {
            "being written at Discord's member-role limit for this server (about 1 a second)"
        };
        text.push_str(&format!("Role changes waiting to be written: {}{oldest}; {moving}\n", s.pending_writes));
    }
    if let Some(held) = &s.held {
        text.push_str(&format!(
            "⚠️ {} role removal(s) held for your decision (the buttons in your operator channel)\n",
            held.count
        ));
    }
    for (chain, why) in &s.unknown_chains {
        text.push_str(&format!("Chain {chain} unreadable: nothing depending on it is revoked ({why})\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_sync_says_stopped_and_its_mode_gives_way_to_the_migrations() {
        let stopped = MemberSyncStatus {
            phase: Phase::Stopped,
            mode: Some(Mode::Primary),
            pending_writes: 10,
            queued: 3,
            ..MemberSyncStatus::default()
        };
        let text = status_lines(Some(&stopped), 0);
        assert!(text.starts_with("Member roles: stopped"), "{text}");
        assert!(!text.contains("waiting") && !text.contains("in sync"), "{text}");
        let rolled_back = MigrationStatus { mode: Some(Mode::Shadow), ..MigrationStatus::default() };
        assert_eq!(community_mode(Some(&stopped), Some(&rolled_back)), Some(Mode::Shadow));
        assert_eq!(community_mode(Some(&stopped), None), None, "shadow mode's view decides");
        let running = MemberSyncStatus { mode: Some(Mode::Parallel), ..MemberSyncStatus::default() };
        assert_eq!(community_mode(Some(&running), Some(&rolled_back)), Some(Mode::Parallel));
        let unplanned = MemberSyncStatus::default();
        assert_eq!(community_mode(Some(&unplanned), Some(&rolled_back)), Some(Mode::Shadow));
    }

    #[test]
    fn status_says_in_sync_only_when_nothing_waits() {
        let idle = MemberSyncStatus::default();
        assert!(status_lines(Some(&idle), 0).starts_with("Member roles: in sync"), "{}", status_lines(Some(&idle), 0));
        let queued = MemberSyncStatus {
            queued: 263,
            pending_writes: 6,
            oldest_write_at_ms: Some(58_000),
            pending_revocations: 2,
            next_recheck_at_ms: Some(112_000),
            ..idle.clone()
        };
        let text = status_lines(Some(&queued), 100_000);
        assert!(text.starts_with("Member roles: catching up"), "{text}");
        for line in [
            "Members waiting to be decided (links, transfers, events): 263",
            "Role changes waiting to be written: 6, the oldest queued 42 s ago; being written at Discord's member-role limit",
            "Removals waiting for their confirming read at a later block: 2 (next read in 12 s)",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn sync_answers_what_it_did() {
        let open = MemberSyncStatus { sweep_requested: true, ..MemberSyncStatus::default() };
        assert!(sync_answer(&open, false).starts_with("Sweep started"));
        assert!(sync_answer(&open, true).starts_with("Dry-run sweep started"));
        let frozen = MemberSyncStatus { closed: Some("the guild is frozen".into()), ..open.clone() };
        assert!(sync_answer(&frozen, false).contains("nothing is written now (the guild is frozen)"));
        let paused = MemberSyncStatus {
            paused: Some(arrakis_schemas::workflows::member_sync::Pause {
                by: "cli:x".into(),
                reason: "upgrade".into(),
            }),
            ..open
        };
        assert!(sync_answer(&paused, false).contains("paused by cli:x (upgrade)"), "{}", sync_answer(&paused, false));
    }

    #[test]
    fn breaker_buttons_round_trip() {
        assert_eq!(parse_button("ms:confirm:sweep-1"), Some((true, "sweep-1")));
        assert_eq!(parse_button("ms:discard:recheck-9"), Some((false, "recheck-9")));
        assert_eq!(parse_button("ms:maybe:x"), None);
        assert_eq!(parse_button("wiz:deploy"), None);
    }

    #[test]
    fn status_names_held_removals_and_unknown_chains() {
        let status = MemberSyncStatus {
            held: Some(member_sync::HeldRevocations { batch: "b".into(), count: 7, roles: vec![], held_at_ms: 0 }),
            unknown_chains: [(1, "no RPC endpoint answered".to_string())].into(),
            ..MemberSyncStatus::default()
        };
        let text = status_lines(Some(&status), 0);
        assert!(text.contains("7 role removal(s) held") && text.contains("Chain 1 unreadable"), "{text}");
    }
}
