//! Reconciliation: three-way drift between the manifest (desired), the shadow state (last
//! applied) and Discord (actual), and the minimal ops to fix it.

pub use crate::plan::{Drift, DriftKind, ExtraItem, ItemRef};
use crate::{
    CommunityId, GuildId,
    plan::{ItemKind, SynthesisOp},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Reconcile";
/// `ArrakisKind` value.
pub const KIND: &str = "reconcile";

/// The readable workflow ID of one run (`run` is a timestamp or an operator's label).
pub fn workflow_id(guild_id: GuildId, run: &str) -> String {
    format!("reconcile-{guild_id}-{run}")
}

/// The guild's 6-hourly reconciliation schedule, which DEPLOY creates and a migration's
/// rollback holds while it runs.
pub fn schedule_id(guild_id: GuildId) -> String {
    format!("reconcile-{guild_id}")
}

/// Report only, or fix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileMode {
    /// Report drift; change nothing.
    #[default]
    DryRun,
    /// Fix drift through the synthesis activities.
    Apply,
}

/// Input. Unknown keys are refused, like every start contract's: a typo in `remove` or
/// `detach` must not silently reconcile without the operator's approval list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileInput {
    /// The guild.
    pub guild_id: GuildId,
    /// Report or fix.
    #[serde(default)]
    pub mode: ReconcileMode,
    /// Objects the manifest dropped that the operator approved for deletion (apply mode only).
    /// Anything dropped and not listed here or in `detach` is held and reported, never deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<ItemRef>,
    /// Objects the manifest dropped that Arrakis stops managing and leaves as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detach: Vec<ItemRef>,
}

impl ReconcileInput {
    /// Checks the removal lists: at most 500 entries each, keys of the manifest's shape, and no
    /// item both removed and detached.
    pub fn check(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        for (field, list) in [("remove", &self.remove), ("detach", &self.detach)] {
            if list.len() > 500 {
                errors.push(field, "at most 500 items");
            }
            for (i, item) in list.iter().enumerate() {
                if item.key.is_empty() || item.key.len() > crate::Limits::KEY_MAX {
                    errors.push(format!("{field}[{i}].key"), format!("1 to {} characters", crate::Limits::KEY_MAX));
                }
            }
        }
        for (i, item) in self.remove.iter().enumerate() {
            if self.detach.contains(item) {
                errors.push(format!("remove[{i}]"), "an item is either removed or detached, not both");
            }
        }
        errors.into_result()
    }
}

/// What became of one item in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Fixed.
    Fixed,
    /// Not fixed, and why.
    Failed {
        /// The reason, as Discord or Arrakis gave it.
        reason: String,
    },
    /// Dropped from the manifest and kept: the operator has not decided to remove or detach it.
    Held,
    /// Found; a dry run (or shadow mode) changes nothing.
    Reported,
    /// Deleted, as the operator approved.
    Removed,
    /// No longer managed by Arrakis, left in Discord as it is.
    Detached,
}

/// One item of a run's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemReport {
    /// What kind of object.
    pub item: ItemKind,
    /// The manifest key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// What was found.
    pub drift: DriftKind,
    /// The details of what was found.
    pub detail: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result and the `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileReport {
    /// The manifest version compared against.
    pub version: i32,
    /// The drift found.
    pub drift: Vec<Drift>,
    /// Ops applied (zero in a dry run).
    pub applied: u32,
    /// Ops that failed, with why.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Every item found, with what became of it.
    #[serde(default)]
    pub items: Vec<ItemReport>,
    /// Why nothing was changed although the run was asked to fix (shadow mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_only: Option<String>,
}

impl ReconcileReport {
    /// The report for the operator's channel: every item's outcome in plain words, fixes
    /// claimed only where they happened. At most 2,000 characters (Discord's limit).
    pub fn text(&self) -> String {
        let count = |f: fn(&Outcome) -> bool| self.items.iter().filter(|i| f(&i.outcome)).count();
        let fixed = count(|o| matches!(o, Outcome::Fixed));
        let failed = count(|o| matches!(o, Outcome::Failed { .. }));
        let held = count(|o| matches!(o, Outcome::Held));
        let removed = count(|o| matches!(o, Outcome::Removed | Outcome::Detached));
        let mut head = format!("**Arrakis reconciliation** (manifest v{}): ", self.version);
        if let Some(why) = &self.reported_only {
            head.push_str(&format!("found {} difference(s); nothing was changed ({why}).", self.items.len()));
        } else if fixed + failed + removed == 0 && held < self.items.len() {
            head.push_str(&format!("found {} difference(s); nothing was changed (dry run).", self.items.len()));
        } else {
            let mut parts = vec![format!("fixed {fixed}")];
            if failed > 0 {
                parts.push(format!("{failed} not fixed"));
            }
            if removed > 0 {
                parts.push(format!("{removed} removed or detached as you decided"));
            }
            if held > 0 {
                parts.push(format!("{held} held for your decision"));
            }
            head.push_str(&format!("{}.", parts.join(", ")));
        }
        let mut text = head;
        let mut shown = 0;
        for item in &self.items {
            let line = format!("\n{}", item.line());
            if text.chars().count() + line.chars().count() > 1_850 {
                break;
            }
            text.push_str(&line);
            shown += 1;
        }
        if shown < self.items.len() {
            text.push_str(&format!("\n… and {} more (the audit log has them all).", self.items.len() - shown));
        }
        if held > 0 {
            text.push_str(
                "\nHeld items stay until you choose: delete them, or keep them and stop Arrakis managing them \
                 (re-run setup, or the runbook's *removals* line).",
            );
        }
        text
    }
}

impl ItemReport {
    /// One line of the operator's report.
    pub fn line(&self) -> String {
        let what = match self.item {
            ItemKind::Role => format!("Role **{}**", self.name),
            ItemKind::Category => format!("Category **{}**", self.name),
            ItemKind::Channel => format!("Channel **{}**", self.name),
        };
        let found = match self.drift {
            DriftKind::ChangedInDiscord | DriftKind::DependencyRecreated => self.detail.clone(),
            DriftKind::ExtraButOurs if !self.detail.is_empty() => {
                format!("{} ({})", self.drift.words(), self.detail)
            }
            other => other.words().to_string(),
        };
        let (mark, done) = match &self.outcome {
            Outcome::Fixed => (
                "✅",
                match self.drift {
                    DriftKind::Missing => "created".to_string(),
                    DriftKind::DeletedInDiscord => "recreated".to_string(),
                    DriftKind::ChangedInDiscord => "put back as the manifest says".to_string(),
                    DriftKind::DependencyRecreated => "rewritten to follow it".to_string(),
                    DriftKind::Outdated | DriftKind::ExtraButOurs => "updated".to_string(),
                },
            ),
            Outcome::Failed { reason } => ("❌", format!("not fixed: {reason}")),
            Outcome::Held => ("⏸️", "kept until you decide".to_string()),
            Outcome::Reported => ("🔎", "not changed".to_string()),
            Outcome::Removed => ("🗑️", "deleted, as you approved".to_string()),
            Outcome::Detached => ("📎", "left as it is; Arrakis no longer manages it".to_string()),
        };
        format!("{mark} {what}: {found} — {done}.")
    }
}

/// The three-way diff: what drifted, and the ops that fix it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileDiff {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version compared against.
    pub version: i32,
    /// The drift, item by item.
    pub drift: Vec<Drift>,
    /// Creates and updates that fix it.
    pub ops: Vec<SynthesisOp>,
    /// Objects the manifest dropped: deleted or detached only as the operator decides.
    pub extras: Vec<ExtraItem>,
    /// Where to tell the operator about drift, if the manifest names a channel.
    #[serde(default)]
    pub operator_channel_id: Option<crate::Snowflake>,
    /// The community's mode; in shadow mode nothing is changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::Mode>,
    /// Why nothing is compared now, if so: a migration's rollback is under way, and the
    /// manifest it reconciles to is about to be replaced (drift, ops and extras are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// A drift report for the operator's channel, posted before the fixes: the input of
/// `reconcile.notify`, kept for runs that started before reports moved after the fixes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftNotice {
    /// The guild.
    pub guild_id: GuildId,
    /// The channel.
    pub channel_id: crate::Snowflake,
    /// Report only, or fixed.
    pub mode: ReconcileMode,
    /// The drift.
    pub drift: Vec<Drift>,
}

/// A run's report for the operator's channel, posted after the fixes (`reconcile.report`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportNotice {
    /// The guild.
    pub guild_id: GuildId,
    /// The channel.
    pub channel_id: crate::Snowflake,
    /// What was found and what became of it.
    pub report: ReconcileReport,
}

/// One object to delete or detach (the input of `reconcile.delete_extra` and
/// `reconcile.detach_extra`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeleteExtra {
    /// The guild.
    pub guild_id: GuildId,
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The object.
    pub item: ExtraItem,
    /// The manifest version the decision was made under (for Discord's audit log).
    #[serde(default)]
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: ItemKind, name: &str, drift: DriftKind, detail: &str, outcome: Outcome) -> ItemReport {
        ItemReport { item: kind, key: name.to_lowercase(), name: name.into(), drift, detail: detail.into(), outcome }
    }

    #[test]
    fn the_report_claims_only_what_happened() {
        let report = ReconcileReport {
            version: 3,
            items: vec![
                item(ItemKind::Role, "Fremen", DriftKind::DeletedInDiscord, "deleted in Discord", Outcome::Fixed),
                item(
                    ItemKind::Channel,
                    "council",
                    DriftKind::ChangedInDiscord,
                    "renamed to 'council-old' (the manifest says 'council')",
                    Outcome::Failed { reason: "Discord unavailable: 502".into() },
                ),
                item(ItemKind::Category, "Vault", DriftKind::ExtraButOurs, "", Outcome::Held),
            ],
            ..ReconcileReport::default()
        };
        let text = report.text();
        assert!(text.starts_with("**Arrakis reconciliation** (manifest v3): fixed 1, 1 not fixed, 1 held"), "{text}");
        assert!(text.contains("✅ Role **Fremen**: deleted by hand in Discord — recreated."), "{text}");
        assert!(text.contains("❌ Channel **council**: renamed to 'council-old' (the manifest says 'council') — not fixed: Discord unavailable: 502."), "{text}");
        assert!(text.contains("⏸️ Category **Vault**: no longer in the manifest — kept until you decide."), "{text}");
        for internal in ["DeletedInDiscord", "ExtraButOurs", "deleted_in_discord"] {
            assert!(!text.contains(internal), "no internal names: {text}");
        }
    }

    #[test]
    fn a_dry_run_says_nothing_changed() {
        let report = ReconcileReport {
            version: 1,
            items: vec![item(ItemKind::Role, "Naib", DriftKind::Missing, "never applied", Outcome::Reported)],
            ..ReconcileReport::default()
        };
        assert!(report.text().contains("found 1 difference(s); nothing was changed (dry run)"), "{}", report.text());
        let shadow = ReconcileReport { reported_only: Some("shadow mode".into()), ..report };
        assert!(shadow.text().contains("nothing was changed (shadow mode)"), "{}", shadow.text());
    }

    #[test]
    fn a_long_report_fits_in_a_discord_message() {
        let items = (0..200)
            .map(|i| item(ItemKind::Channel, &format!("channel-{i}"), DriftKind::Missing, "", Outcome::Fixed))
            .collect();
        let text = ReconcileReport { version: 1, items, ..ReconcileReport::default() }.text();
        assert!(text.chars().count() <= 2_000, "{}", text.chars().count());
        assert!(text.contains("more (the audit log has them all)"));
    }

    #[test]
    fn removal_lists_are_checked() {
        let guild = "1100000000000000001".parse().expect("id");
        let both = ItemRef { kind: ItemKind::Category, key: "vault".into() };
        let input = ReconcileInput {
            guild_id: guild,
            mode: ReconcileMode::Apply,
            remove: vec![both.clone()],
            detach: vec![both],
        };
        assert!(input.check().expect_err("both").has("remove[0]"));
    }
}
