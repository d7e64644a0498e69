//! Property tests of member sync's decision core (#28): a model of one guild drives the loop's
//! pure functions — [`next_round`] picks the work, [`Queued::merge`] folds events,
//! [`as_discord_has`] corrects stale reads, [`plan_member`] decides each member, [`breaker`]
//! holds mass removals, [`idle_until`] sets the next wake — through random sequences of links,
//! transfers, hand edits, echoes, unreadable chains, breaker confirms and discards, role
//! deletions and manifest edits. The model stands in for Postgres and Discord the way the
//! activities use them (`activities/src/member_sync`). At every step: no (member, role) pair is
//! written twice, nothing due waits past one round, and an idle loop sleeps until something is
//! due; after the events stop, every queue drains, every member holds exactly what they qualify
//! for (or what the operator kept), and the loop goes idle, asking Discord nothing.
//! (256 cases in CI; `PROPTEST_CASES=20000` runs a longer campaign.)

use arrakis_schemas::{
    Snowflake,
    eligibility::{Evaluation, RoleVerdict, Verdict},
    workflows::member_sync::{
        BreakerVerdict, LastWrite, LoopView, MemberFacts, Queued, Reason, Sighting, Step, WriteAction, as_discord_has,
        breaker, idle_until, next_round, plan_member,
    },
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const MEMBERS: u64 = 5;
const ROLES: usize = 2;
const CONFIRM_MS: u64 = 10_000;
const SWEEP_EVERY_MS: u64 = 600_000;
/// Writes per `Write` step: a Discord window.
const WINDOW: usize = 3;

type Pair = (u64, u64);

/// Something that happens to the guild between two of the loop's rounds.
#[derive(Clone, Debug)]
enum Event {
    /// A member links a wallet (`/verify`): queued.
    Link(u64),
    /// A member's holdings change for a role; the watcher sees the transfer: queued.
    Transfer(u64, usize, bool),
    /// Someone else adds or removes one of Arrakis's roles: GUILD_MEMBER_UPDATE.
    HandEdit(u64, usize, bool),
    /// Every RPC URL fails (verdicts unknown), or answers again.
    Chain(bool),
    /// The operator confirms, or discards, the held batch.
    Operator(bool),
    /// A role is deleted by hand; reconciliation makes it again under a new id.
    RoleRecreated(usize),
    /// A new manifest version (thresholds changed): a sweep is asked for.
    ManifestEdit(Vec<(u64, usize, bool)>),
    /// `/check-eligibility`.
    Ask(u64),
    /// `/arrakis sync`.
    SyncNow,
    /// Time passes and a block is mined.
    Tick(u64),
    /// The gateway delivers what it has received.
    Deliver,
    /// The loop runs one round.
    Round,
}

fn event() -> impl Strategy<Value = Event> {
    let member = 1..=MEMBERS;
    let role = 0..ROLES;
    prop_oneof![
        member.clone().prop_map(Event::Link),
        (member.clone(), role.clone(), any::<bool>()).prop_map(|(m, r, e)| Event::Transfer(m, r, e)),
        (member.clone(), role.clone(), any::<bool>()).prop_map(|(m, r, e)| Event::HandEdit(m, r, e)),
        any::<bool>().prop_map(Event::Chain),
        any::<bool>().prop_map(Event::Operator),
        role.clone().prop_map(Event::RoleRecreated),
        prop::collection::vec((member.clone(), role, any::<bool>()), 0..4).prop_map(Event::ManifestEdit),
        member.prop_map(Event::Ask),
        Just(Event::SyncNow),
        (1u64..30_000).prop_map(Event::Tick),
        Just(Event::Deliver),
        Just(Event::Round),
        Just(Event::Round),
        Just(Event::Round),
    ]
}

/// The guild (Discord and the chain) and member sync's records, as the activities keep them.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    block: u64,
    // ---- the world ----
    /// Discord role id of each manifest role.
    role_ids: Vec<u64>,
    next_role_id: u64,
    version: i32,
    discord: BTreeSet<Pair>,
    linked: BTreeSet<u64>,
    /// (member, role index) → holds enough.
    holds: BTreeSet<(u64, usize)>,
    unreadable: bool,
    /// GUILD_MEMBER_UPDATEs not yet delivered: member, roles after the change.
    gateway: Vec<(u64, Vec<u64>)>,
    // ---- member sync ----
    queued: BTreeMap<u64, Queued>,
    writes: BTreeMap<Pair, WriteAction>,
    negatives: BTreeMap<Pair, (Sighting, Option<u64>)>,
    held: Option<BTreeSet<Pair>>,
    unsettled: BTreeSet<Pair>,
    decision: Option<bool>,
    kept: BTreeMap<Pair, i32>,
    written: BTreeMap<Pair, LastWrite>,
    desired: BTreeMap<u64, Vec<u64>>,
    recheck_at: Option<u64>,
    sweep_requested: bool,
    sweeping: bool,
    next_sweep_at: u64,
    // ---- what the properties watch ----
    /// Arrakis's last write per pair, and whether anyone else changed the pair since.
    last_write: BTreeMap<Pair, (WriteAction, bool)>,
    requests: u64,
    /// What happened, for a failing case's message.
    trace: Vec<String>,
}

impl Model {
    fn new() -> Self {
        let mut m = Model {
            role_ids: vec![101, 102],
            next_role_id: 103,
            version: 1,
            block: 1,
            now: 1_000_000,
            ..Model::default()
        };
        m.sweep_requested = true;
        m
    }

    fn roles(&self) -> BTreeMap<String, u64> {
        self.role_ids.iter().enumerate().map(|(i, id)| (format!("r{i}"), *id)).collect()
    }

    fn index_of(&self, role: u64) -> Option<usize> {
        self.role_ids.iter().position(|r| *r == role)
    }

    fn member_roles(&self, user: u64) -> Vec<u64> {
        self.discord.iter().filter(|(u, _)| *u == user).map(|(_, r)| *r).collect()
    }

    /// The truth: whether the member should hold the role (linked and holding enough).
    fn qualifies(&self, user: u64, role: usize) -> bool {
        self.linked.contains(&user) && self.holds.contains(&(user, role))
    }

    /// Discord changed a member's roles: the gateway will say so.
    fn changed(&mut self, user: u64) {
        let roles = self.member_roles(user);
        self.gateway.push((user, roles));
    }

    fn queue(&mut self, user: u64, q: Queued) {
        match self.queued.get_mut(&user) {
            Some(existing) => existing.merge(q),
            None => {
                self.queued.insert(user, q);
            }
        }
    }

    fn deliver(&mut self) {
        for (user, roles) in std::mem::take(&mut self.gateway) {
            self.now += 1;
            let roles = roles.into_iter().map(|r| Snowflake::new(r).expect("id")).collect();
            self.queue(user, Queued { reason: Reason::RolesChanged, roles: Some(roles), seen_at_ms: Some(self.now) });
        }
    }

    fn view(&self) -> LoopView {
        LoopView {
            now_ms: self.now,
            decision: self.decision.is_some() && self.held.is_some(),
            leaving: false,
            urgent: self.queued.values().any(|q| q.reason != Reason::RolesChanged),
            echoes: self.queued.values().any(|q| q.reason == Reason::RolesChanged),
            recheck_at_ms: self.recheck_at,
            pending_writes: !self.writes.is_empty(),
            paused: false,
            dry_run_paused: false,
            write_retry_at_ms: None,
            sweeping: self.sweeping,
            sweep_requested: self.sweep_requested,
            next_sweep_at_ms: self.next_sweep_at,
        }
    }

    fn verdicts(&self, user: u64) -> Vec<RoleVerdict> {
        (0..ROLES)
            .map(|i| {
                let verdict = if !self.linked.contains(&user) {
                    Verdict::NotEligible
                } else if self.unreadable {
                    Verdict::Unknown { reason: "chain 31337 unreadable".into() }
                } else if self.holds.contains(&(user, i)) {
                    Verdict::Eligible
                } else {
                    Verdict::NotEligible
                };
                RoleVerdict {
                    role: format!("r{i}"),
                    evaluation: Evaluation { verdict, sources: Default::default(), degraded: vec![] },
                }
            })
            .collect()
    }

    /// `decide` in the activities: one member, as read at `read_at`.
    fn decide(&mut self, user: u64, said: &[u64], read_at: u64, staged: &mut BTreeSet<Pair>) {
        let roles = self.roles();
        let writes: Vec<LastWrite> = self.written.iter().filter(|((u, _), _)| *u == user).map(|(_, w)| *w).collect();
        let current = as_discord_has(said, read_at, &writes);
        let waiting: Vec<(u64, Sighting)> = self
            .negatives
            .iter()
            .filter(|((u, _), _)| *u == user)
            .map(|((_, r), (first, _))| (*r, first.clone()))
            .collect();
        let managed: BTreeSet<u64> = roles.values().copied().collect();
        let decides = self.linked.contains(&user) || current.iter().any(|r| managed.contains(r)) || !waiting.is_empty();
        let verdicts = self.verdicts(user);
        let kept: Vec<u64> =
            self.kept.iter().filter(|((u, _), v)| *u == user && **v == self.version).map(|((_, r), _)| *r).collect();
        let seen = Sighting { at_ms: self.now, blocks: [(31337, self.block)].into() };
        let revoking: Vec<u64> = self
            .writes
            .iter()
            .filter(|((u, _), a)| *u == user && **a == WriteAction::Revoke)
            .map(|((_, r), _)| *r)
            .chain(self.held.iter().flatten().filter(|(u, _)| *u == user).map(|(_, r)| *r))
            .collect();
        let plan = plan_member(&MemberFacts {
            roles: &roles,
            verdicts: decides.then_some(verdicts.as_slice()),
            current: &current,
            waiting: &waiting,
            kept: &kept,
            revoking: &revoking,
            moved: true,
            seen: &seen,
            confirm_ms: CONFIRM_MS,
        });
        for r in plan.settled.iter().chain(&plan.qualify) {
            self.cancel_revocation((user, *r));
        }
        for r in &plan.qualify {
            self.kept.remove(&(user, *r));
        }
        for r in &plan.settled {
            self.kept.remove(&(user, *r));
        }
        for r in &plan.lapsed {
            if self.writes.get(&(user, *r)) == Some(&WriteAction::Grant) {
                self.writes.remove(&(user, *r));
            }
        }
        if !decides {
            return;
        }
        for r in &plan.grants {
            self.writes.insert((user, *r), WriteAction::Grant);
        }
        for r in &plan.first {
            self.negatives.entry((user, *r)).or_insert((seen.clone(), None));
        }
        for r in &plan.checked {
            if let Some(n) = self.negatives.get_mut(&(user, *r)) {
                n.1 = Some(self.now);
            }
        }
        for r in &plan.staged {
            self.negatives.remove(&(user, *r));
            staged.insert((user, *r));
        }
        self.desired.insert(user, plan.desired);
    }

    fn cancel_revocation(&mut self, pair: Pair) {
        self.negatives.remove(&pair);
        if let Some(held) = self.held.as_mut() {
            held.remove(&pair);
        }
        self.unsettled.remove(&pair);
        if self.writes.get(&pair) == Some(&WriteAction::Revoke) {
            self.writes.remove(&pair);
        }
    }

    fn recheck_at(&self) -> Option<u64> {
        self.negatives.values().map(|(first, checked)| first.at_ms.max(checked.unwrap_or(0)) + CONFIRM_MS).min()
    }

    /// `settle`: a batch past the breaker, or held; behind a held batch it waits.
    fn settle(&mut self, batch: BTreeSet<Pair>) {
        if batch.is_empty() {
            return;
        }
        if self.held.is_some() {
            self.unsettled.extend(batch);
            return;
        }
        let mut holders: BTreeMap<String, u64> = BTreeMap::new();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (_, r) in &self.discord {
            if let Some(i) = self.index_of(*r) {
                *holders.entry(format!("r{i}")).or_default() += 1;
            }
        }
        for (_, r) in &batch {
            if let Some(i) = self.index_of(*r) {
                *counts.entry(format!("r{i}")).or_default() += 1;
            }
        }
        match breaker(&holders, &counts, 0.5, 2) {
            BreakerVerdict::Pass => {
                for pair in batch {
                    self.writes.insert(pair, WriteAction::Revoke);
                }
            }
            BreakerVerdict::Trip(_) => self.held = Some(batch),
        }
    }

    fn recheck(&mut self, due: bool, echoes: bool) {
        let picked: Vec<(u64, Queued)> = self
            .queued
            .iter()
            .filter(|(_, q)| (q.reason == Reason::RolesChanged) == echoes)
            .map(|(u, q)| (*u, q.clone()))
            .collect();
        let mut unread: BTreeSet<u64> = BTreeSet::new();
        if due {
            let cutoff = self.now.saturating_sub(CONFIRM_MS);
            unread.extend(
                self.negatives
                    .iter()
                    .filter(|(_, (first, checked))| first.at_ms.max(checked.unwrap_or(0)) <= cutoff)
                    .map(|((u, _), _)| *u),
            );
        }
        let mut staged = BTreeSet::new();
        let managed: BTreeSet<u64> = self.role_ids.iter().copied().collect();
        for (user, q) in picked {
            self.queued.remove(&user);
            let Some(roles) = q.roles else {
                unread.insert(user);
                continue;
            };
            let said: Vec<u64> = roles.iter().map(|r| r.get()).collect();
            let read_at = q.seen_at_ms.unwrap_or(self.now);
            if q.reason == Reason::RolesChanged {
                let writes: Vec<LastWrite> =
                    self.written.iter().filter(|((u, _), _)| *u == user).map(|(_, w)| *w).collect();
                let mut held: Vec<u64> =
                    as_discord_has(&said, read_at, &writes).into_iter().filter(|r| managed.contains(r)).collect();
                let mut want = self.desired.get(&user).cloned().unwrap_or_default();
                held.sort_unstable();
                want.sort_unstable();
                if held == want {
                    continue;
                }
            }
            unread.remove(&user);
            self.decide(user, &said, read_at, &mut staged);
        }
        if !unread.is_empty() {
            self.requests += 1;
        }
        for user in unread {
            let said = self.member_roles(user);
            self.decide(user, &said, self.now, &mut staged);
        }
        self.recheck_at = self.recheck_at();
        self.settle(staged);
    }

    fn sweep(&mut self) {
        self.requests += 1;
        let mut staged = BTreeSet::new();
        for user in 1..=MEMBERS {
            let said = self.member_roles(user);
            self.decide(user, &said, self.now, &mut staged);
        }
        self.sweeping = false;
        self.recheck_at = self.recheck_at();
        self.settle(staged);
    }

    fn write(&mut self) -> Result<(), TestCaseError> {
        // The gateway delivers within a write's pacing: what was said before is in.
        self.deliver();
        let batch: Vec<(Pair, WriteAction)> = self.writes.iter().take(WINDOW).map(|(p, a)| (*p, *a)).collect();
        for ((user, role), action) in batch {
            self.writes.remove(&(user, role));
            if self.index_of(role).is_none() {
                // Discord answers Unknown Role: everything aimed at the dead id is forgotten.
                self.forget_role(role);
                continue;
            }
            self.now += 1;
            self.requests += 1;
            if let Some((last, touched)) = self.last_write.get(&(user, role)) {
                prop_assert!(
                    *last != action || *touched,
                    "({user}, {role}) written twice ({action:?}) with nobody else changing it between:\n{}",
                    self.trace.join("\n")
                );
            }
            match action {
                WriteAction::Grant => self.discord.insert((user, role)),
                WriteAction::Revoke => self.discord.remove(&(user, role)),
            };
            self.trace.push(format!("t={} write {action:?} ({user}, {role})", self.now));
            self.written.insert((user, role), LastWrite { role_id: role, action, at_ms: self.now });
            self.last_write.insert((user, role), (action, false));
            self.changed(user);
        }
        Ok(())
    }

    fn forget_role(&mut self, role: u64) {
        self.writes.retain(|(_, r), _| *r != role);
        self.negatives.retain(|(_, r), _| *r != role);
        self.written.retain(|(_, r), _| *r != role);
        self.kept.retain(|(_, r), _| *r != role);
        if let Some(held) = self.held.as_mut() {
            held.retain(|(_, r)| *r != role);
        }
        self.unsettled.retain(|(_, r)| *r != role);
    }

    fn decide_held(&mut self) {
        let (Some(held), Some(confirm)) = (self.held.take(), self.decision.take()) else { return };
        for pair in held {
            if confirm {
                self.writes.insert(pair, WriteAction::Revoke);
            } else {
                self.kept.insert(pair, self.version);
            }
            // Decided: a later batch waiting with the same pair does not ask again.
            self.negatives.remove(&pair);
            self.unsettled.remove(&pair);
        }
        let waiting = std::mem::take(&mut self.unsettled);
        self.settle(waiting);
    }

    /// One round of the loop, as the workflow runs it.
    fn round(&mut self) -> Result<Vec<Step>, TestCaseError> {
        let view = self.view();
        let steps = next_round(&view, true);
        self.trace.push(format!(
            "t={} round {steps:?} queued {:?} writes {:?} negatives {:?} held {:?} unsettled {:?}",
            self.now,
            self.queued,
            self.writes,
            self.negatives.keys().collect::<Vec<_>>(),
            self.held,
            self.unsettled
        ));
        for &step in &steps {
            match step {
                Step::DecideHeld => self.decide_held(),
                Step::Forget => {}
                Step::Recheck { due } => self.recheck(due, false),
                Step::Write => self.write()?,
                Step::Echoes => self.recheck(false, true),
                Step::SweepPage => self.sweep(),
                Step::BeginSweep => {
                    self.sweep_requested = false;
                    self.sweeping = true;
                    self.next_sweep_at = self.now + SWEEP_EVERY_MS;
                }
            }
        }
        // Nothing that was due when the round began is due and unserved after it.
        if view.recheck_due() {
            prop_assert!(
                self.recheck_at.is_none_or(|at| at > view.now_ms),
                "a due re-check was left due: {:?} at {}",
                self.recheck_at,
                view.now_ms
            );
        }
        if view.sweep_due() && !view.sweeping {
            prop_assert!(self.sweeping, "a due sweep did not start");
        }
        if steps.is_empty() {
            // Idle: the loop sleeps until something is due, never in a busy loop.
            prop_assert!(idle_until(&view) > self.now, "an idle loop that wakes at once spins");
            self.now = idle_until(&view).min(self.now + 60_000);
            self.block += 1;
        } else {
            self.now += 500;
        }
        Ok(steps)
    }

    fn apply(&mut self, event: &Event) -> Result<(), TestCaseError> {
        self.trace.push(format!("t={} {event:?}", self.now));
        match event.clone() {
            Event::Link(user) => {
                self.linked.insert(user);
                self.queue(user, Queued::read(Reason::WalletLinked));
            }
            Event::Transfer(user, role, holds) => {
                if holds {
                    self.holds.insert((user, role));
                } else {
                    self.holds.remove(&(user, role));
                }
                self.block += 1;
                if self.linked.contains(&user) {
                    self.queue(user, Queued::read(Reason::Transfer));
                }
            }
            Event::HandEdit(user, role, add) => {
                let pair = (user, self.role_ids[role]);
                let changed = if add { self.discord.insert(pair) } else { self.discord.remove(&pair) };
                if changed {
                    if let Some(last) = self.last_write.get_mut(&pair) {
                        last.1 = true;
                    }
                    self.changed(user);
                }
            }
            Event::Chain(down) => self.unreadable = down,
            Event::Operator(confirm) => {
                if self.held.is_some() {
                    self.decision = Some(confirm);
                }
            }
            Event::RoleRecreated(role) => {
                let old = self.role_ids[role];
                self.discord.retain(|(_, r)| *r != old);
                self.role_ids[role] = self.next_role_id;
                self.next_role_id += 1;
                // Reconciliation tells member sync (#28): a sweep gives the role back.
                self.sweep_requested = true;
            }
            Event::ManifestEdit(changes) => {
                for (user, role, holds) in changes {
                    if holds {
                        self.holds.insert((user, role));
                    } else {
                        self.holds.remove(&(user, role));
                    }
                }
                self.version += 1;
                self.sweep_requested = true;
            }
            Event::Ask(user) => self.queue(user, Queued::read(Reason::Asked)),
            Event::SyncNow => self.sweep_requested = true,
            Event::Tick(ms) => {
                self.now += ms;
                self.block += 1;
            }
            Event::Deliver => self.deliver(),
            Event::Round => {
                self.round()?;
            }
        }
        Ok(())
    }

    /// After the events: the chain answers, the operator confirms what is held, time passes
    /// (past the next scheduled sweep).
    fn quiesce(&mut self) -> Result<(), TestCaseError> {
        self.unreadable = false;
        // An unknown verdict changed nothing; the next scheduled sweep, with the chain back,
        // decides again: everything settles within one sweep interval.
        let settle_by = self.now + SWEEP_EVERY_MS + 60_000;
        let mut idle_in_a_row = 0;
        for _ in 0..600 {
            self.deliver();
            if self.held.is_some() {
                self.decision = Some(true);
            }
            let steps = self.round()?;
            idle_in_a_row = if steps.is_empty() && self.gateway.is_empty() { idle_in_a_row + 1 } else { 0 };
            if idle_in_a_row >= 3 && self.recheck_at.is_none() && self.now > settle_by {
                break;
            }
        }
        prop_assert!(self.queued.is_empty(), "members still queued: {:?}", self.queued);
        prop_assert!(self.writes.is_empty(), "writes never sent: {:?}", self.writes);
        prop_assert!(self.negatives.is_empty(), "negatives due for ever: {:?}", self.negatives);
        prop_assert!(self.held.is_none() && self.unsettled.is_empty(), "a batch never settled");
        for user in 1..=MEMBERS {
            for (i, role) in self.role_ids.clone().into_iter().enumerate() {
                let has = self.discord.contains(&(user, role));
                let kept = self.kept.get(&(user, role)) == Some(&self.version);
                prop_assert!(
                    has == self.qualifies(user, i) || (has && kept),
                    "member {user} role {role}: holds {has}, qualifies {}, kept {kept}",
                    self.qualifies(user, i)
                );
            }
        }
        // Idle means idle: a further while asks Discord nothing.
        let before = self.requests;
        for _ in 0..5 {
            if self.now + 60_000 >= self.next_sweep_at {
                break;
            }
            let steps = self.round()?;
            prop_assert!(steps.is_empty(), "a settled loop still works: {steps:?}");
        }
        prop_assert_eq!(self.requests, before);
        Ok(())
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_loop_never_writes_a_pair_twice_never_leaves_work_due_and_drains(
        events in prop::collection::vec(event(), 0..80),
    ) {
        let mut model = Model::new();
        for event in &events {
            model.apply(event)?;
        }
        model.quiesce()?;
    }
}

#[test]
fn rounds_serve_every_due_kind_once_and_replayed_runs_keep_their_old_order() {
    let view = LoopView {
        now_ms: 100,
        urgent: true,
        recheck_at_ms: Some(50),
        pending_writes: true,
        sweep_requested: true,
        ..LoopView::default()
    };
    assert_eq!(next_round(&view, true), vec![Step::Recheck { due: true }, Step::Write, Step::BeginSweep]);
    assert_eq!(next_round(&view, false), vec![Step::Recheck { due: false }]);
    let idle = LoopView { now_ms: 100, next_sweep_at_ms: 10_000, ..LoopView::default() };
    assert!(next_round(&idle, true).is_empty());
    assert_eq!(idle_until(&idle), 10_000);
}
