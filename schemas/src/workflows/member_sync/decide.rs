//! How member sync decides, as pure functions with their tests: what a member should hold
//! ([`decide_member`], [`plan_member`]: an `unknown` verdict never revokes), when a revocation
//! is confirmed ([`revocation_confirmed`]: a second negative read at a later block, at least
//! `revoke_confirm` after the first), when a batch is held for the operator ([`breaker`]), what
//! the loop does next ([`next_round`]) and in which order writes go ([`priority`]).
//! A change to how a revocation is decided starts here.

use super::contract::*;
use crate::eligibility::{RoleVerdict, Verdict};
use std::collections::BTreeMap;

impl Queued {
    /// A member queued without roles: they are read from Discord when decided.
    pub fn read(reason: Reason) -> Self {
        Self { reason, roles: None, seen_at_ms: None }
    }

    /// Folds a newer event for the same member into this one. A reason that needs a decision
    /// (a link, a transfer, a request) replaces the entry; a roles change only brings the
    /// newest roles, so the last GUILD_MEMBER_UPDATE of a burst (the echo of Arrakis's last
    /// write) is what is decided, never an earlier one that would ask for a write again.
    /// Roles that arrive out of order (a link's interaction and a gateway event travel
    /// different paths) never replace roles Discord showed later.
    pub fn merge(&mut self, newer: Queued) {
        let newer_is_older = newer.roles.is_some() && self.roles.is_some() && newer.seen_at_ms < self.seen_at_ms;
        if newer.reason != Reason::RolesChanged {
            let kept = newer_is_older.then(|| (self.roles.take(), self.seen_at_ms));
            *self = newer;
            if let Some((roles, seen_at_ms)) = kept {
                self.roles = roles;
                self.seen_at_ms = seen_at_ms;
            }
        } else if self.roles.is_some() && !newer_is_older {
            self.roles = newer.roles;
            self.seen_at_ms = newer.seen_at_ms;
        }
    }
}

/// What one member's roles should become.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberDecision {
    /// Role keys to grant: eligible, not held.
    pub grants: Vec<String>,
    /// Role keys held with a negative verdict: revoked once the second read confirms it.
    pub negatives: Vec<String>,
    /// Role keys whose verdict is unknown: left exactly as they are.
    pub unknown: Vec<String>,
    /// Role keys the member should hold afterwards (held and kept, plus grants).
    pub desired: Vec<String>,
}

/// Decides one member: `roles` maps each manifest role key to its Discord role (roles not yet
/// created are absent and skipped), `verdicts` are the member's, `current` their Discord roles.
/// An `unknown` verdict changes nothing, in either direction.
pub fn decide_member(roles: &BTreeMap<String, u64>, verdicts: &[RoleVerdict], current: &[u64]) -> MemberDecision {
    let mut out = MemberDecision::default();
    for (key, id) in roles {
        let holds = current.contains(id);
        match verdicts.iter().find(|v| &v.role == key).map(|v| &v.evaluation.verdict) {
            Some(Verdict::Eligible) => {
                if !holds {
                    out.grants.push(key.clone());
                }
                out.desired.push(key.clone());
            }
            Some(Verdict::NotEligible) if holds => out.negatives.push(key.clone()),
            Some(Verdict::NotEligible) => {}
            Some(Verdict::Unknown { .. }) | None => {
                out.unknown.push(key.clone());
                if holds {
                    out.desired.push(key.clone());
                }
            }
        }
    }
    out
}

/// The waiting negatives (Discord role ids) of one member that no longer wait for anything:
/// the member does not hold the role any more (the revocation was written, by Arrakis or by
/// hand, or the role was deleted), or no role of the manifest is that Discord role now. They
/// are dropped at once: kept, they would be due for a second read for ever, and the loop would
/// re-read the member on every turn without deciding anything.
pub fn settled_negatives(roles: &BTreeMap<String, u64>, current: &[u64], waiting: &[u64]) -> Vec<u64> {
    waiting.iter().copied().filter(|role| !current.contains(role) || !roles.values().any(|id| id == role)).collect()
}

/// A member's Discord roles as they are now: `current` as read (or as an event said) at
/// `read_at_ms`, with every write Arrakis sent after that read applied. A page read, or an
/// event, from before a write would otherwise ask for the same write again (a second PUT), or
/// see a role Arrakis just removed and note a negative for it.
pub fn as_discord_has(current: &[u64], read_at_ms: u64, written: &[LastWrite]) -> Vec<u64> {
    let mut roles: Vec<u64> = current.to_vec();
    for w in written.iter().filter(|w| w.at_ms > read_at_ms) {
        match w.action {
            WriteAction::Grant if !roles.contains(&w.role_id) => roles.push(w.role_id),
            WriteAction::Grant => {}
            WriteAction::Revoke => roles.retain(|r| *r != w.role_id),
        }
    }
    roles
}

/// Applies the operator's Discard: a held negative for a role in `kept` (Discord ids the
/// operator kept under this manifest version) is no negative; the member keeps the role until a
/// positive read or a new manifest version ends the keep, so the next sweep does not ask again.
pub fn keep_discarded(roles: &BTreeMap<String, u64>, decision: &mut MemberDecision, kept: &[u64]) {
    let (kept_now, still): (Vec<String>, Vec<String>) = std::mem::take(&mut decision.negatives)
        .into_iter()
        .partition(|k| roles.get(k).is_some_and(|id| kept.contains(id)));
    decision.negatives = still;
    decision.desired.extend(kept_now);
    decision.desired.sort();
}

/// Everything one member's decision reads: the pure input of [`plan_member`].
#[derive(Clone, Copy, Debug)]
pub struct MemberFacts<'a> {
    /// Manifest role key → Discord role id, for the roles that exist in Discord.
    pub roles: &'a BTreeMap<String, u64>,
    /// The member's verdicts (`None`: nothing to decide, e.g. no wallet and no managed role).
    pub verdicts: Option<&'a [RoleVerdict]>,
    /// Their Discord roles as they are now ([`as_discord_has`] of the last read).
    pub current: &'a [u64],
    /// Their negatives waiting for a second read: Discord role id and the first sighting.
    pub waiting: &'a [(u64, Sighting)],
    /// Roles the operator kept at the breaker under this manifest version.
    pub kept: &'a [u64],
    /// Roles whose revocation is already decided (queued, or held by the breaker): a read
    /// before it is written notes no new negative, which would revoke the pair a second time.
    pub revoking: &'a [u64],
    /// False while a migration has not moved the member over yet: they keep what they hold and
    /// get nothing new.
    pub moved: bool,
    /// This read.
    pub seen: &'a Sighting,
    /// `revoke_confirm`, in ms.
    pub confirm_ms: u64,
}

/// What one member's decision changes in the sync's records (Discord role ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberPlan {
    /// The decision itself (role keys), for counts.
    pub decision: MemberDecision,
    /// Grants to queue.
    pub grants: Vec<u64>,
    /// First negative reads to note.
    pub first: Vec<u64>,
    /// Negatives confirmed by this second read: they go past the breaker.
    pub staged: Vec<u64>,
    /// Waiting negatives read again without an end (same block, too soon, an unknown verdict):
    /// due again one `revoke_confirm` from now.
    pub checked: Vec<u64>,
    /// Negatives that wait for nothing any more ([`settled_negatives`]): dropped.
    pub settled: Vec<u64>,
    /// Eligible roles: any negative, held or queued revocation, or keep for them ends.
    pub qualify: Vec<u64>,
    /// Not eligible and not held: a queued grant for them ends.
    pub lapsed: Vec<u64>,
    /// What the member should hold afterwards.
    pub desired: Vec<u64>,
}

/// Decides one member from everything their decision reads: the loop's per-member core,
/// shared by sweeps and re-checks (and driven by the property tests). An unknown verdict
/// changes nothing; a negative is revoked only after a second read confirms it; a kept role
/// stays; a member a migration has not moved yet gets nothing new.
pub fn plan_member(facts: &MemberFacts<'_>) -> MemberPlan {
    let waiting: Vec<u64> = facts.waiting.iter().map(|(r, _)| *r).collect();
    let mut out =
        MemberPlan { settled: settled_negatives(facts.roles, facts.current, &waiting), ..MemberPlan::default() };
    let Some(verdicts) = facts.verdicts else {
        out.checked = waiting.iter().copied().filter(|r| !out.settled.contains(r)).collect();
        return out;
    };
    let mut decision = decide_member(facts.roles, verdicts, facts.current);
    keep_discarded(facts.roles, &mut decision, facts.kept);
    if !facts.moved {
        decision.grants.clear();
        decision.desired.retain(|k| facts.current.contains(&facts.roles[k]));
    }
    out.grants = decision.grants.iter().map(|k| facts.roles[k]).collect();
    for key in &decision.negatives {
        let role = facts.roles[key];
        if facts.revoking.contains(&role) {
            continue;
        }
        match facts.waiting.iter().find(|(r, _)| *r == role) {
            Some((_, first)) if revocation_confirmed(first, facts.seen, facts.confirm_ms) => out.staged.push(role),
            Some(_) => {}
            None => out.first.push(role),
        }
    }
    for verdict in verdicts {
        let Some(&role) = facts.roles.get(&verdict.role) else { continue };
        match verdict.evaluation.verdict {
            Verdict::Eligible => out.qualify.push(role),
            Verdict::NotEligible if !facts.current.contains(&role) => out.lapsed.push(role),
            _ => {}
        }
    }
    // Every other waiting negative was read again without an end (not confirmed yet, an unknown
    // verdict, a kept role): it is due again one `revoke_confirm` later, not at once.
    out.checked = waiting
        .iter()
        .copied()
        .filter(|r| ![&out.settled, &out.staged, &out.qualify].iter().any(|done| done.contains(r)))
        .collect();
    out.desired = decision.desired.iter().map(|k| facts.roles[k]).collect();
    out.decision = decision;
    out
}

/// True when a second negative read (`now`) confirms the first: at least `confirm_ms` later,
/// and at a later block of every chain the first read saw. The same block read twice is the
/// same state, not a confirmation.
pub fn revocation_confirmed(first: &Sighting, now: &Sighting, confirm_ms: u64) -> bool {
    let later = first.blocks.iter().all(|(chain, block)| now.blocks.get(chain).is_some_and(|b| b > block));
    now.at_ms >= first.at_ms.saturating_add(confirm_ms) && later
}

/// What the loop sees when it picks its next round: the pure input of [`next_round`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopView {
    /// Workflow time (Unix ms).
    pub now_ms: u64,
    /// The operator answered the held batch.
    pub decision: bool,
    /// Members left the guild and are to be forgotten.
    pub leaving: bool,
    /// Members queued for a decision (links, transfers, joins, requests).
    pub urgent: bool,
    /// Members queued only to check a roles change (mostly echoes of Arrakis's writes).
    pub echoes: bool,
    /// When waiting negatives are due for their second read.
    pub recheck_at_ms: Option<u64>,
    /// Writes are queued.
    pub pending_writes: bool,
    /// The operator paused writing.
    pub paused: bool,
    /// A dry-run sweep awaits `resume` (no sweep starts until then).
    pub dry_run_paused: bool,
    /// A freeze or shadow mode closed the gate: writes are tried again at this time.
    pub write_retry_at_ms: Option<u64>,
    /// A sweep is under way.
    pub sweeping: bool,
    /// A sweep was asked for (a manifest published, `/arrakis sync`).
    pub sweep_requested: bool,
    /// When the scheduled sweep is due.
    pub next_sweep_at_ms: u64,
}

/// One unit of the loop's work: an activity or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Apply the operator's answer to the held batch.
    DecideHeld,
    /// Forget members who left.
    Forget,
    /// Decide queued members; `due`: and the negatives due for their second read.
    Recheck {
        /// The due negatives are read too.
        due: bool,
    },
    /// Send a Discord window of queued writes.
    Write,
    /// Check queued roles changes (echoes) once the writes are out.
    Echoes,
    /// Decide the sweep's next page.
    SweepPage,
    /// Start a sweep.
    BeginSweep,
}

impl LoopView {
    /// Negatives are due for their second read.
    pub fn recheck_due(&self) -> bool {
        self.recheck_at_ms.is_some_and(|at| at <= self.now_ms)
    }

    /// Writes can go out now.
    pub fn can_write(&self) -> bool {
        self.pending_writes && !self.paused && self.write_retry_at_ms.is_none_or(|at| at <= self.now_ms)
    }

    /// A sweep is due and may start.
    pub fn sweep_due(&self) -> bool {
        !self.dry_run_paused && (self.sweep_requested || self.now_ms >= self.next_sweep_at_ms)
    }
}

/// The loop's next round: every kind of work that is due, each once, most urgent first. A
/// round serves them all, so none waits behind another that is always due (a stream of links
/// does not starve the write queue, a re-check does not starve a due sweep or `/arrakis sync`):
/// each makes progress within one round. Empty: nothing is due, the loop idles until
/// [`idle_until`]. `fair` is false only while replaying runs recorded before rounds, which
/// did one of the first three kinds per turn.
pub fn next_round(v: &LoopView, fair: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if v.decision {
        steps.push(Step::DecideHeld);
    }
    if v.leaving {
        steps.push(Step::Forget);
    }
    if v.urgent || v.recheck_due() {
        steps.push(Step::Recheck { due: v.recheck_due() && (fair || !v.urgent) });
    }
    if !fair && !steps.is_empty() {
        steps.truncate(1);
        return steps;
    }
    if v.can_write() {
        steps.push(Step::Write);
    }
    if !v.pending_writes && v.echoes {
        steps.push(Step::Echoes);
    }
    if v.sweeping {
        steps.push(Step::SweepPage);
    } else if v.sweep_due() {
        steps.push(Step::BeginSweep);
    }
    steps
}

/// When an idle loop wakes by itself (an input wakes it sooner): the next sweep, the next
/// re-check, or the next try of writes a closed gate kept waiting; never sooner than 1 s.
pub fn idle_until(v: &LoopView) -> u64 {
    let mut at = if v.dry_run_paused { u64::MAX } else { v.next_sweep_at_ms };
    at = at.min(v.recheck_at_ms.unwrap_or(u64::MAX));
    if v.pending_writes && !v.paused {
        at = at.min(v.write_retry_at_ms.unwrap_or(v.now_ms));
    }
    at.max(v.now_ms.saturating_add(1_000))
}

/// How long second reads of negatives rest after a round that spent `reads` Discord reads, so
/// that on average they spend at most `reads_per_minute`: re-checks take a set share of the
/// guild's read budget, however many negatives wait.
pub fn recheck_rest_ms(reads: u32, reads_per_minute: u32) -> u64 {
    u64::from(reads) * 60_000 / u64::from(reads_per_minute.max(1))
}

/// The breaker's answer for a batch of revocations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakerVerdict {
    /// Apply them.
    Pass,
    /// Hold them all for the operator: the roles that tripped it, with (revocations, holders).
    Trip(Vec<(String, u64, u64)>),
}

/// Holds a batch when, for any role, it would revoke more than `max_fraction` of the role's
/// `holders` and at least `min_count` revocations (a handful never trips it). A role whose
/// holders are unknown (no sweep yet) counts as having none.
pub fn breaker(
    holders: &BTreeMap<String, u64>,
    revocations: &BTreeMap<String, u64>,
    max_fraction: f64,
    min_count: u32,
) -> BreakerVerdict {
    let tripped: Vec<(String, u64, u64)> = revocations
        .iter()
        .filter_map(|(role, &revoking)| {
            let held_by = holders.get(role).copied().unwrap_or(0);
            let too_many = (revoking as f64) > max_fraction * held_by as f64 && revoking >= u64::from(min_count);
            too_many.then(|| (role.clone(), revoking, held_by))
        })
        .collect();
    if tripped.is_empty() { BreakerVerdict::Pass } else { BreakerVerdict::Trip(tripped) }
}

/// Priorities of queued writes: members who just acted come before a sweep's backlog.
pub mod priority {
    /// Events, transfers, links, confirmed decisions.
    pub const NOW: i16 = 0;
    /// A sweep's findings.
    pub const SWEEP: i16 = 1;
}

/// The migration batch member sync may report as written in full, if one is due: the
/// migration nudged it for a batch it has not reported yet, no sweep is asked for or under way
/// (the nudge asks for one, so the sweep that answered it has ended), and no decided write
/// waits. Until then the migration does not call itself complete.
pub fn settled_batch_due(carried: &Carried, pending_writes: u64) -> Option<u32> {
    let settled = carried.migration.is_some()
        && carried.migration_batch > carried.settled_batch
        && !carried.sweep_requested
        && carried.sweep.is_none()
        && pending_writes == 0;
    settled.then_some(carried.migration_batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::Evaluation;

    #[test]
    fn a_newer_roles_change_brings_its_roles_and_a_decision_replaces_it() {
        let roles = |ids: &[u64], at| Queued {
            reason: Reason::RolesChanged,
            roles: Some(ids.iter().map(|i| crate::Snowflake::new(*i).expect("id")).collect()),
            seen_at_ms: Some(at),
        };
        let mut q = roles(&[11], 1);
        q.merge(roles(&[11, 12], 2));
        assert_eq!(q, roles(&[11, 12], 2), "the echo of the last write wins");
        q.merge(Queued::read(Reason::Transfer));
        assert_eq!(q, Queued::read(Reason::Transfer), "a transfer is read fresh");
        q.merge(roles(&[11], 3));
        assert_eq!(q, Queued::read(Reason::Transfer), "a read comes later anyway");
        let mut joined = Queued { reason: Reason::Joined, ..roles(&[], 1) };
        joined.merge(roles(&[11], 4));
        assert_eq!(joined, Queued { reason: Reason::Joined, ..roles(&[11], 4) });
    }

    #[test]
    fn second_reads_rest_in_proportion_to_what_they_spent() {
        assert_eq!(recheck_rest_ms(0, 30), 0, "a round that read nothing rests not at all");
        assert_eq!(recheck_rest_ms(1, 30), 2_000);
        assert_eq!(recheck_rest_ms(5, 30), 10_000, "five single reads at 30 a minute: 10 s");
        assert_eq!(recheck_rest_ms(100, 600), 10_000);
        assert_eq!(recheck_rest_ms(3, 0), 180_000, "a zero rate is read as one a minute, never a division by zero");
        let bad = SyncSettings { recheck_reads_per_minute: 0, ..SyncSettings::default() };
        assert!(bad.check().expect_err("refused").has("settings.recheck_reads_per_minute"));
    }

    #[test]
    fn roles_that_arrive_late_never_replace_roles_seen_later() {
        let roles = |reason, ids: &[u64], at| Queued {
            reason,
            roles: Some(ids.iter().map(|i| crate::Snowflake::new(*i).expect("id")).collect()),
            seen_at_ms: Some(at),
        };
        // The echo of a grant (seen at 5) reached the workflow before the link's interaction
        // (seen at 3): the link's reason, the echo's roles.
        let mut q = roles(Reason::RolesChanged, &[11], 5);
        q.merge(roles(Reason::WalletLinked, &[], 3));
        assert_eq!(q, roles(Reason::WalletLinked, &[11], 5));
        q.merge(roles(Reason::RolesChanged, &[], 4));
        assert_eq!(q, roles(Reason::WalletLinked, &[11], 5), "an older event changes nothing");
        let linked = WalletLinked {
            user_id: crate::UserId::new(7).expect("id"),
            roles_seen: Some(crate::workflows::members::RolesSeen { roles: vec![], seen_at_ms: 9 }),
        };
        assert_eq!(linked.queued(), roles(Reason::WalletLinked, &[], 9));
        let from_cli = WalletLinked { roles_seen: None, ..linked };
        assert_eq!(from_cli.queued(), Queued::read(Reason::WalletLinked), "without roles the member is read");
        let too_many = crate::workflows::members::RolesSeen {
            roles: (1..=251).map(|i| crate::Snowflake::new(i).expect("id")).collect(),
            seen_at_ms: 9,
        };
        let garbled = WalletLinked { roles_seen: Some(too_many), ..from_cli };
        assert_eq!(garbled.queued(), Queued::read(Reason::WalletLinked), "roles no guild can have are read instead");
    }

    #[test]
    fn writes_after_a_read_override_what_it_said() {
        let w = |role_id, action, at_ms| LastWrite { role_id, action, at_ms };
        let written = [w(11, WriteAction::Grant, 100), w(12, WriteAction::Revoke, 100)];
        // Read before both writes: the PUT and the DELETE stand.
        assert_eq!(as_discord_has(&[12], 50, &written), vec![11]);
        // Read after them: the read is the truth (someone changed it by hand since).
        assert_eq!(as_discord_has(&[12], 150, &written), vec![12]);
        assert_eq!(as_discord_has(&[11, 13], 50, &written), vec![11, 13]);
    }

    #[test]
    fn a_discarded_removal_is_kept_and_others_still_wait() {
        let mut d = MemberDecision {
            grants: vec![],
            negatives: vec!["holder".into(), "whale".into()],
            unknown: vec![],
            desired: vec!["gold".into()],
        };
        keep_discarded(&roles(), &mut d, &[11]);
        assert_eq!(d.negatives, vec!["whale"]);
        assert_eq!(d.desired, vec!["gold", "holder"]);
    }

    #[test]
    fn a_negative_is_settled_once_its_role_is_not_held_or_not_managed() {
        let roles: BTreeMap<String, u64> = [("holder".to_string(), 10), ("whale".to_string(), 20)].into();
        // Still held and managed: it waits for its second read.
        assert_eq!(settled_negatives(&roles, &[10, 20], &[10, 20]), Vec::<u64>::new());
        // The echo of Arrakis's own DELETE of 10 (20 still held): 10's negative is done.
        assert_eq!(settled_negatives(&roles, &[20], &[10, 20]), vec![10]);
        // A role the manifest dropped (30) waits for nothing, held or not.
        assert_eq!(settled_negatives(&roles, &[30], &[30]), vec![30]);
        assert_eq!(settled_negatives(&roles, &[], &[]), Vec::<u64>::new());
    }

    fn verdicts(list: &[(&str, Verdict)]) -> Vec<RoleVerdict> {
        list.iter()
            .map(|(role, verdict)| RoleVerdict {
                role: role.to_string(),
                evaluation: Evaluation { verdict: verdict.clone(), sources: Default::default(), degraded: vec![] },
            })
            .collect()
    }

    fn roles() -> BTreeMap<String, u64> {
        [("holder", 11), ("whale", 12), ("gold", 13)].into_iter().map(|(k, id)| (k.to_string(), id)).collect()
    }

    #[test]
    fn an_unknown_verdict_never_revokes_and_never_grants() {
        let unknown = Verdict::Unknown { reason: "chain 1 unreadable".into() };
        let d = decide_member(
            &roles(),
            &verdicts(&[("holder", unknown.clone()), ("whale", unknown.clone()), ("gold", unknown)]),
            &[11],
        );
        assert!(d.grants.is_empty() && d.negatives.is_empty(), "{d:?}");
        assert_eq!(d.unknown, vec!["gold", "holder", "whale"]);
        assert_eq!(d.desired, vec!["holder"], "a held role stays held");
    }

    #[test]
    fn eligible_roles_are_granted_and_held_negatives_wait_for_confirmation() {
        let d = decide_member(
            &roles(),
            &verdicts(&[
                ("holder", Verdict::Eligible),
                ("whale", Verdict::NotEligible),
                ("gold", Verdict::NotEligible),
            ]),
            &[12, 99],
        );
        assert_eq!(d.grants, vec!["holder"]);
        assert_eq!(d.negatives, vec!["whale"], "only a held role can be revoked; 99 is not ours");
        assert_eq!(d.desired, vec!["holder"]);
        // A role the manifest has but Discord does not yet (no id) is skipped.
        let mut partial = roles();
        partial.remove("holder");
        assert!(decide_member(&partial, &verdicts(&[("holder", Verdict::Eligible)]), &[]).grants.is_empty());
    }

    #[test]
    fn a_revocation_needs_a_later_block_and_the_confirmation_time() {
        let first = Sighting { at_ms: 1_000, blocks: [(1, 100)].into() };
        let later = |at_ms, block| Sighting { at_ms, blocks: [(1, block)].into() };
        assert!(revocation_confirmed(&first, &later(61_000, 101), 60_000));
        assert!(!revocation_confirmed(&first, &later(60_999, 101), 60_000), "too soon");
        assert!(!revocation_confirmed(&first, &later(61_000, 100), 60_000), "the same block is the same read");
        assert!(!revocation_confirmed(&first, &Sighting { at_ms: 61_000, blocks: BTreeMap::new() }, 60_000));
        // No chain involved (a member without wallets): time alone confirms.
        let offchain = Sighting { at_ms: 1_000, blocks: BTreeMap::new() };
        assert!(revocation_confirmed(&offchain, &Sighting { at_ms: 61_000, blocks: BTreeMap::new() }, 60_000));
    }

    #[test]
    fn the_breaker_holds_a_mass_removal_and_lets_a_handful_through() {
        let holders: BTreeMap<String, u64> = [("holder".to_string(), 1_000), ("whale".to_string(), 10)].into();
        let batch = |list: &[(&str, u64)]| list.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        assert_eq!(breaker(&holders, &batch(&[("holder", 50)]), 0.05, 5), BreakerVerdict::Pass);
        assert_eq!(
            breaker(&holders, &batch(&[("holder", 51)]), 0.05, 5),
            BreakerVerdict::Trip(vec![("holder".into(), 51, 1_000)])
        );
        assert_eq!(breaker(&holders, &batch(&[("whale", 4)]), 0.05, 5), BreakerVerdict::Pass, "a handful");
        assert_eq!(
            breaker(&holders, &batch(&[("whale", 5)]), 0.05, 5),
            BreakerVerdict::Trip(vec![("whale".into(), 5, 10)])
        );
        assert!(matches!(breaker(&BTreeMap::new(), &batch(&[("gold", 5)]), 0.05, 5), BreakerVerdict::Trip(_)));
    }

    #[test]
    fn settings_are_bounded_and_name_the_field() {
        assert_eq!(SyncSettings::default().check(), Ok(()));
        let bad = SyncSettings { sweep_interval_secs: 5, max_revoke_fraction: 1.5, ..SyncSettings::default() };
        let errors = bad.check().expect_err("bad");
        assert!(errors.has("settings.sweep_interval_secs") && errors.has("settings.max_revoke_fraction"), "{errors}");
    }

    #[test]
    fn a_batch_is_settled_once_its_sweep_ended_and_its_writes_are_out() {
        let nudged = Carried {
            migration: Some("migration-1".into()),
            migration_batch: 4,
            settled_batch: 3,
            sweep_requested: true,
            ..Carried::default()
        };
        assert_eq!(settled_batch_due(&nudged, 0), None, "the nudge's sweep has not begun");
        let sweep = SweepProgress {
            sweep_id: "s".into(),
            plan: SweepPlan::default(),
            after: None,
            tally: SweepTally::default(),
            dry_run: false,
            started_at_ms: 0,
        };
        let sweeping = Carried { sweep_requested: false, sweep: Some(sweep), ..nudged.clone() };
        assert_eq!(settled_batch_due(&sweeping, 0), None, "the sweep is under way");
        let swept = Carried { sweep: None, ..sweeping };
        assert_eq!(settled_batch_due(&swept, 12), None, "12 writes wait");
        assert_eq!(settled_batch_due(&swept, 0), Some(4));
        assert_eq!(settled_batch_due(&Carried { settled_batch: 4, ..swept.clone() }, 0), None, "told already");
        assert_eq!(settled_batch_due(&Carried { migration: None, ..swept }, 0), None, "no migration");
    }
}
