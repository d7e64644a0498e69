//! The wizard's rules, pure: what a step's answer must hold, the draft it leaves, the manifest
//! the draft describes, and the checks of the in-place edits (an asset, a rule, a role, a
//! channel). The worker's update validators call these, so the gateway's forms, the CLI and
//! a replay all meet the same rules.

use super::{assets, contract::*, picks};
use crate::workflows::incumbent::Incumbent;
use crate::{
    ChannelPlan, ChannelStrategy, CommunityManifest, Condition, GuildId, Mode, RoleSpec, Snowflake, ValidationErrors,
};
use std::collections::BTreeMap;

impl WizardDraft {
    /// A draft for a new session (mode `exclusive`, nothing answered).
    pub fn new() -> Self {
        Self { mode: default_mode(), ..Self::default() }
    }

    /// The manifest the draft describes (its operator channel: the one chosen at INIT, else
    /// `operator_channel_id`, where setup ran). In parallel mode every role is named `arrakis-…`:
    /// the prefix is added to the operator's name, never asked for.
    pub fn manifest(&self, guild_id: GuildId, operator_channel_id: Option<Snowflake>) -> CommunityManifest {
        let mut roles = self.roles.clone();
        if self.mode == Mode::Parallel {
            for role in &mut roles {
                role.name = crate::workflows::migration::parallel_role_name(&role.name);
            }
        }
        CommunityManifest {
            guild_id,
            name: self.name.clone().unwrap_or_default(),
            theme: self.theme,
            mode: self.mode,
            chains: self.chains.clone(),
            assets: self.assets.clone(),
            rules: self.rules.clone(),
            roles,
            channels: self.channels.clone(),
            operator_channel_id: self.operator_channel_id.or(operator_channel_id),
        }
    }

    /// A draft holding a deployed manifest, to edit it: `/arrakis setup` after a deploy starts
    /// from what is live rather than from nothing. (Parallel-mode names keep their prefix;
    /// adding it again leaves them as they are.)
    pub fn from_manifest(manifest: &CommunityManifest) -> Self {
        Self {
            name: Some(manifest.name.clone()),
            theme: manifest.theme,
            mode: if manifest.mode == Mode::Primary { Mode::Exclusive } else { manifest.mode },
            chains: manifest.chains.clone(),
            assets: manifest.assets.clone(),
            rules: manifest.rules.clone(),
            roles: manifest.roles.clone(),
            channels: manifest.channels.clone(),
            removals: None,
            operator_channel_id: manifest.operator_channel_id,
        }
    }

    /// The draft with `answer` applied.
    pub fn with(&self, answer: &StepAnswer) -> Self {
        let mut next = self.clone();
        match answer.clone() {
            StepAnswer::Init { name, theme, mode, operator_channel_id, .. } => {
                next.name = Some(name);
                next.theme = theme;
                next.mode = mode;
                next.operator_channel_id = operator_channel_id.or(self.operator_channel_id);
            }
            StepAnswer::ChainSelect { chains } => next.chains = chains,
            StepAnswer::AssetConfig { assets } => next.assets = assets,
            StepAnswer::EligibilityRules { rules } => next.rules = rules,
            StepAnswer::RoleMapping { roles } => next.roles = roles,
            StepAnswer::ChannelStructure { channels } => next.channels = channels,
            StepAnswer::Review { removals, .. } => next.removals = removals,
        }
        next
    }

    /// The draft as it stands up to `step` (inclusive): later answers cleared, so an earlier
    /// step is checked only against what it depends on.
    fn through(&self, step: WizardStep) -> Self {
        let mut d = self.clone();
        if step < WizardStep::ChannelStructure {
            d.channels = ChannelPlan::default();
        }
        if step < WizardStep::RoleMapping {
            d.roles.clear();
        }
        if step < WizardStep::EligibilityRules {
            d.rules.clear();
        }
        if step < WizardStep::AssetConfig {
            d.assets.clear();
        }
        if step < WizardStep::ChainSelect {
            d.chains.clear();
        }
        d
    }

    /// Checks `answer` given the session's current step: the step must be reached, the answer
    /// must be complete, and the manifest built so far must hold every rule. Errors name the
    /// manifest field (`assets[1].address: …`).
    pub fn check(&self, guild_id: GuildId, current: WizardStep, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let step = answer.step();
        if step > current {
            errors.push("step", format!("answer {} first (this session is at {})", current.as_str(), current.as_str()));
            return Err(errors);
        }
        match answer {
            StepAnswer::ChainSelect { chains } if chains.is_empty() => {
                errors.push("chains", "choose at least one chain")
            }
            StepAnswer::AssetConfig { assets } if assets.is_empty() => {
                errors.push("assets", "add at least one token or collection")
            }
            StepAnswer::EligibilityRules { rules } if rules.is_empty() => errors.push("rules", "add at least one rule"),
            StepAnswer::RoleMapping { roles } if roles.is_empty() => errors.push("roles", "add at least one role"),
            StepAnswer::Init { mode: Mode::Primary, .. } => errors.push(
                "mode",
                "the wizard sets up `shadow` (beside your current bot, changing nothing), `parallel` or `exclusive`; \
                 `primary` comes with a migration",
            ),
            StepAnswer::Review { confirm: false, .. } => {
                errors.push("confirm", "must be true to deploy (go back to change an earlier step)")
            }
            StepAnswer::Review { .. } if current != WizardStep::Review => {
                errors.push("step", "review the plan before deploying")
            }
            _ => {}
        }
        errors.into_result()?;
        self.with(answer).through(step).manifest(guild_id, None).validate()
    }

    /// Checks a draft edited in place at `step` (a picked rule or role): the manifest built
    /// so far must hold, but an empty list is allowed until the step is submitted.
    pub fn check_edited(&self, guild_id: GuildId, step: WizardStep) -> Result<(), ValidationErrors> {
        self.through(step).manifest(guild_id, None).validate()
    }

    /// True when the channel plan asks for channels (its strategy is then `custom` or another
    /// managing strategy).
    pub fn manages_channels(&self) -> bool {
        self.channels.strategy != ChannelStrategy::None
    }
}

impl PastedManifest {
    /// The manifest must be this server's, in a mode the wizard sets up, and valid by the
    /// manifest's own rules (the same ones every other path meets).
    pub fn check(&self, guild_id: GuildId) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.manifest.guild_id != guild_id {
            errors.push(
                "guild_id",
                format!(
                    "this manifest is for server {}; this is {guild_id} (leave guild_id out to use this server)",
                    self.manifest.guild_id
                ),
            );
        }
        if self.manifest.mode == Mode::Primary {
            errors.push("mode", "`primary` comes with a migration: paste it as `exclusive`, `parallel` or `shadow`");
        }
        errors.into_result()?;
        self.manifest.validate()
    }
}

impl WizardStatus {
    /// REVIEW's own rule, which needs the plan: when the version drops objects, the operator
    /// must say whether they go or stay.
    pub fn check_review(&self, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let StepAnswer::Review { removals: None, .. } = answer {
            let dropped = self.plan.as_ref().map_or(0, |p| p.remove.len());
            if dropped > 0 {
                errors.push(
                    "removals",
                    format!("this version drops {dropped} object(s): choose `remove` (delete them now) or `detach` (keep them, unmanaged)"),
                );
            }
        }
        errors.into_result()
    }
}

impl WizardStatus {
    /// Notes that the session reached `step` (the funnel stays in step order).
    pub fn reach(&mut self, step: WizardStep) {
        if !self.reached.contains(&step) {
            self.reached.push(step);
            self.reached.sort();
        }
    }

    /// True once DEPLOY has ended, either way: the screen then stops offering Refresh.
    pub fn deploy_finished(&self) -> bool {
        matches!(self.deploy, DeployStage::Done | DeployStage::Failed)
    }
}

impl WizardStatus {
    /// Notes the incumbent the gateway found when the session was opened. A session that has
    /// nothing in it yet (a first setup, untouched) starts in shadow mode beside it: keeping
    /// the defaults never deploys a second bot that fights the first.
    pub fn take_incumbent(&mut self, incumbent: Option<Incumbent>) {
        let Some(incumbent) = incumbent else { return };
        self.incumbent = Some(incumbent);
        if self.step == WizardStep::Init && self.editing_version.is_none() && self.draft == WizardDraft::new() {
            self.draft.mode = Mode::Shadow;
        }
    }

    /// INIT's own rule, which needs the incumbent: exclusive mode beside a detected one needs
    /// the operator's confirmation naming it (`beside`).
    pub fn check_init(&self, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let (StepAnswer::Init { mode: Mode::Exclusive, beside, .. }, Some(incumbent)) = (answer, self.incumbent)
            && *beside != Some(incumbent)
        {
            let name = incumbent.signature().name;
            errors.push(
                "mode",
                format!(
                    "{name} runs in this server: `exclusive` beside it means two bots granting and revoking the same \
                     members' roles. Choose `shadow` (watch beside {name}, change nothing) or `parallel` (Arrakis's own \
                     arrakis-* roles), or confirm exclusive beside {name} (`beside`: {})",
                    incumbent.as_str()
                ),
            );
        }
        errors.into_result()
    }

    /// CHAIN_SELECT's own rule, which needs the chains the worker reads: when it said which,
    /// only those (an asset on another chain could never be read).
    pub fn check_chains(&self, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let (StepAnswer::ChainSelect { chains }, Some(offered)) = (answer, &self.chains_offered)
            && !offered.is_empty()
        {
            for chain in chains.iter().filter(|c| !offered.iter().any(|o| o.id == **c)) {
                let listed = offered.iter().map(|o| format!("{} ({})", o.id, o.name)).collect::<Vec<_>>().join(", ");
                errors.push("chains", format!("chain {chain} is not read by this deployment; it reads {listed}"));
            }
        }
        errors.into_result()
    }

    /// Checks an `asset` edit against the session: ASSET_CONFIG must be the current step, a
    /// lookup must be well formed and on one of the draft's chains, a confirmation needs
    /// something found, a removal a known key. Returns the edit as it will be applied.
    pub fn check_asset_edit(&self, edit: &assets::AssetEdit) -> Result<assets::AssetEdit, ValidationErrors> {
        use assets::AssetEdit;
        let mut errors = ValidationErrors::default();
        if self.step != WizardStep::AssetConfig {
            errors
                .push("step", format!("assets are edited at ASSET_CONFIG (this session is at {})", self.step.as_str()));
            return Err(errors);
        }
        match edit {
            AssetEdit::Confirm if self.found_asset.is_none() => {
                errors.push("edit", "nothing was looked up to confirm: add a token or collection first")
            }
            AssetEdit::Remove { key } if !self.draft.assets.iter().any(|a| &a.key == key) => {
                let keys = self.draft.assets.iter().map(|a| a.key.as_str()).collect::<Vec<_>>().join(", ");
                errors.push("key", format!("no asset '{key}' in the draft (it has: {keys})"))
            }
            _ => {}
        }
        errors.into_result()?;
        let edit = edit.checked(&self.draft.chains)?;
        if let AssetEdit::LookUp { chain_id, address, token_id } = &edit
            && let Some(same) = self
                .draft
                .assets
                .iter()
                .find(|a| a.chain_id == *chain_id && &a.address == address && &a.token_id == token_id)
        {
            let mut errors = ValidationErrors::default();
            errors.push("address", format!("{address} is in the draft already, as `{}`", same.key));
            return Err(errors);
        }
        Ok(edit)
    }

    /// The rules a `rule` edit leaves, checked: ELIGIBILITY_RULES must be the current step
    /// and the manifest must hold.
    pub fn check_rule_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::RuleEdit,
    ) -> Result<BTreeMap<String, Condition>, ValidationErrors> {
        self.at(WizardStep::EligibilityRules, "rules")?;
        let rules = edit.rules(&self.draft)?;
        WizardDraft { rules: rules.clone(), ..self.draft.clone() }
            .check_edited(guild_id, WizardStep::EligibilityRules)?;
        Ok(rules)
    }

    /// The roles a `role` edit leaves, checked likewise at ROLE_MAPPING.
    pub fn check_role_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::RoleEdit,
    ) -> Result<Vec<RoleSpec>, ValidationErrors> {
        self.at(WizardStep::RoleMapping, "roles")?;
        let roles = edit.roles(&self.draft)?;
        WizardDraft { roles: roles.clone(), ..self.draft.clone() }.check_edited(guild_id, WizardStep::RoleMapping)?;
        Ok(roles)
    }

    /// The channels a `channel` edit leaves, checked likewise at CHANNEL_STRUCTURE.
    pub fn check_channel_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::ChannelEdit,
    ) -> Result<ChannelPlan, ValidationErrors> {
        self.at(WizardStep::ChannelStructure, "channels")?;
        let channels = edit.channels(&self.draft)?;
        WizardDraft { channels: channels.clone(), ..self.draft.clone() }
            .check_edited(guild_id, WizardStep::ChannelStructure)?;
        Ok(channels)
    }

    fn at(&self, step: WizardStep, what: &str) -> Result<(), ValidationErrors> {
        if self.step == step {
            return Ok(());
        }
        let mut errors = ValidationErrors::default();
        errors.push(
            "step",
            format!("{what} are edited at {} (this session is at {})", step.as_str(), self.step.as_str()),
        );
        Err(errors)
    }

    /// The draft with an accepted `asset` edit applied (a lookup's finding is set apart, by
    /// the workflow, in `found_asset`).
    pub fn apply_asset_edit(&mut self, edit: &assets::AssetEdit) {
        use assets::AssetEdit;
        match edit {
            AssetEdit::Confirm => {
                if let Some(found) = self.found_asset.take() {
                    let taken: Vec<String> = self.draft.assets.iter().map(|a| a.key.clone()).collect();
                    self.draft.assets.push(found.to_asset(&taken));
                }
            }
            AssetEdit::Discard => self.found_asset = None,
            AssetEdit::Remove { key } => self.draft.assets.retain(|a| &a.key != key),
            AssetEdit::LookUp { .. } => {}
        }
    }

    /// True while the session takes input.
    pub fn is_open(&self) -> bool {
        !self.expired && self.step != WizardStep::Deploy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Asset, AssetKind, RoleGrant, Theme, plan::ItemKind, workflows::synthesis::RemovalChoice};

    #[test]
    fn a_funnel_mark_is_the_step_name_or_how_the_session_ended() {
        for (mark, wire) in [
            (FunnelMark::Reached(WizardStep::Init), "\"INIT\""),
            (FunnelMark::Reached(WizardStep::ChainSelect), "\"CHAIN_SELECT\""),
            (FunnelMark::Ended(SessionEnd::Expired), "\"EXPIRED\""),
            (FunnelMark::Ended(SessionEnd::Deployed), "\"DEPLOYED\""),
        ] {
            assert_eq!(serde_json::to_string(&mark).expect("json"), wire);
            assert_eq!(serde_json::from_str::<FunnelMark>(wire).expect(wire), mark);
            assert_eq!(format!("\"{}\"", mark.as_str()), wire);
        }
        assert!(serde_json::from_str::<FunnelMark>("\"LOST\"").is_err());
    }

    fn guild() -> GuildId {
        "123456789012345678".parse().expect("snowflake")
    }

    fn asset() -> Asset {
        Asset {
            key: "spice".into(),
            chain_id: 1,
            kind: AssetKind::Erc20,
            address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
            token_id: None,
            decimals: Some(18),
        }
    }

    fn answered() -> WizardDraft {
        WizardDraft::new()
            .with(&StepAnswer::Init {
                name: "Sietch".into(),
                theme: Theme::Basic,
                mode: Mode::Exclusive,
                operator_channel_id: None,
                beside: None,
            })
            .with(&StepAnswer::ChainSelect { chains: vec![1] })
            .with(&StepAnswer::AssetConfig { assets: vec![asset()] })
    }

    #[test]
    fn steps_run_in_order_and_round_trip_their_names() {
        for (i, step) in WizardStep::ALL.iter().enumerate() {
            assert_eq!(step.index(), i);
            assert_eq!(WizardStep::parse(step.as_str()), Some(*step));
        }
        assert_eq!(WizardStep::Review.next(), WizardStep::Deploy);
        assert_eq!(WizardStep::Deploy.next(), WizardStep::Deploy);
    }

    #[test]
    fn an_answer_ahead_of_the_session_is_refused() {
        let e = WizardDraft::new()
            .check(guild(), WizardStep::Init, &StepAnswer::ChainSelect { chains: vec![1] })
            .expect_err("ahead");
        assert!(e.has("step"), "{e}");
    }

    #[test]
    fn a_rule_on_an_unknown_asset_names_the_field() {
        let mut rules = BTreeMap::new();
        rules.insert("holder".into(), Condition::MinBalance { asset: "water".into(), amount: "1".into() });
        let e = answered()
            .check(guild(), WizardStep::EligibilityRules, &StepAnswer::EligibilityRules { rules })
            .expect_err("unknown asset");
        assert!(e.to_string().contains("rules.holder.min_balance.asset"), "{e}");
    }

    #[test]
    fn an_earlier_step_is_checked_without_later_answers() {
        // Roles refer to a rule; editing the chains must not be refused because of them.
        let mut rules = BTreeMap::new();
        rules.insert("holder".into(), Condition::MinBalance { asset: "spice".into(), amount: "1".into() });
        let draft = answered().with(&StepAnswer::EligibilityRules { rules }).with(&StepAnswer::RoleMapping {
            roles: vec![RoleSpec {
                key: "holder".into(),
                name: "Holder".into(),
                color: 0,
                hoist: false,
                mentionable: false,
                grant: RoleGrant::Rule("holder".into()),
                permissions: None,
            }],
        });
        draft.check(guild(), WizardStep::Review, &StepAnswer::ChainSelect { chains: vec![1, 8453] }).expect("ok");
        let e =
            draft.check(guild(), WizardStep::Review, &StepAnswer::ChainSelect { chains: vec![] }).expect_err("empty");
        assert!(e.has("chains"), "{e}");
    }

    #[test]
    fn confirming_needs_true_and_the_review_step() {
        let d = answered();
        assert!(d.check(guild(), WizardStep::Review, &StepAnswer::Review { confirm: false, removals: None }).is_err());
        assert!(d.check(guild(), WizardStep::Review, &StepAnswer::Review { confirm: true, removals: None }).is_ok());
    }

    #[test]
    fn a_version_that_drops_objects_needs_a_decision() {
        let item = PlannedItem { kind: ItemKind::Category, key: "vault".into(), name: "Vault".into(), detail: None };
        let status = WizardStatus {
            plan: Some(DeployPlan { remove: vec![item], ..DeployPlan::default() }),
            ..WizardStatus::default()
        };
        let undecided = StepAnswer::Review { confirm: true, removals: None };
        assert!(status.check_review(&undecided).expect_err("no decision").has("removals"));
        let decided = StepAnswer::Review { confirm: true, removals: Some(RemovalChoice::Detach) };
        assert!(status.check_review(&decided).is_ok());
        assert!(WizardStatus::default().check_review(&undecided).is_ok(), "nothing dropped, nothing to decide");
    }

    #[test]
    fn asset_edits_need_their_step_a_finding_and_known_keys_and_never_add_twice() {
        use assets::{AssetEdit, FoundAsset};
        let mut status = WizardStatus { step: WizardStep::AssetConfig, ..WizardStatus::default() };
        status.draft.chains = vec![1];
        assert!(status.check_asset_edit(&AssetEdit::Confirm).expect_err("nothing found").has("edit"));
        assert!(status.check_asset_edit(&AssetEdit::Remove { key: "spice".into() }).expect_err("none").has("key"));
        status.found_asset = Some(FoundAsset {
            chain_id: 1,
            address: asset().address,
            kind: AssetKind::Erc20,
            name: Some("Spice".into()),
            symbol: Some("SPICE".into()),
            decimals: Some(18),
            token_id: None,
            decimals_assumed: false,
        });
        status.check_asset_edit(&AssetEdit::Confirm).expect("something to confirm");
        status.apply_asset_edit(&AssetEdit::Confirm);
        assert_eq!((status.draft.assets.clone(), status.found_asset.is_none()), (vec![asset()], true));
        let again = AssetEdit::LookUp { chain_id: 1, address: asset().address.to_lowercase(), token_id: None };
        let e = status.check_asset_edit(&again).expect_err("twice");
        assert!(e.has("address") && e.to_string().contains("as `spice`"), "{e}");
        status.apply_asset_edit(&AssetEdit::Remove { key: "spice".into() });
        assert!(status.draft.assets.is_empty());
        status.step = WizardStep::EligibilityRules;
        assert!(status.check_asset_edit(&again).expect_err("another step").has("step"));
    }

    #[test]
    fn a_deployed_manifest_comes_back_whole_as_a_draft() {
        let m: CommunityManifest =
            serde_json::from_str(include_str!("../../../examples/sietch-tabr.json")).expect("the example manifest");
        assert_eq!(WizardDraft::from_manifest(&m).manifest(m.guild_id, m.operator_channel_id), m);
    }

    #[test]
    fn the_funnel_marks_what_was_reached_and_where_the_operator_is() {
        let mut status = WizardStatus::default();
        status.reach(WizardStep::Init);
        status.reach(WizardStep::AssetConfig);
        status.reach(WizardStep::ChainSelect);
        status.reach(WizardStep::ChainSelect);
        status.step = WizardStep::AssetConfig;
        assert_eq!(status.reached, vec![WizardStep::Init, WizardStep::ChainSelect, WizardStep::AssetConfig]);
        let line = status.funnel_line();
        assert!(line.starts_with("Community ✓ → Chains ✓ → Assets ← here → Eligibility rules → Roles"), "{line}");
        status.expired = true;
        assert!(
            status.funnel_line().contains("Chains ✓ → Assets ✗ (stopped here) → Eligibility"),
            "{}",
            status.funnel_line()
        );
    }

    #[test]
    fn beside_a_detected_incumbent_a_new_session_starts_in_shadow_and_exclusive_needs_its_name() {
        use crate::workflows::incumbent::Incumbent::Collabland;
        let mut fresh = WizardStatus { draft: WizardDraft::new(), ..WizardStatus::default() };
        fresh.take_incumbent(Some(Collabland));
        assert_eq!((fresh.draft.mode, fresh.incumbent), (Mode::Shadow, Some(Collabland)));
        let mut editing = WizardStatus { draft: answered(), editing_version: Some(2), ..WizardStatus::default() };
        editing.take_incumbent(Some(Collabland));
        assert_eq!(editing.draft.mode, Mode::Exclusive, "a deployed version keeps its mode");
        let mut none = WizardStatus { draft: WizardDraft::new(), ..WizardStatus::default() };
        none.take_incumbent(None);
        assert_eq!(none.draft.mode, Mode::Exclusive);

        let init = |mode, beside| StepAnswer::Init {
            name: "Sietch".into(),
            theme: Theme::Basic,
            mode,
            operator_channel_id: None,
            beside,
        };
        let refused = fresh.check_init(&init(Mode::Exclusive, None)).expect_err("needs the confirmation");
        assert!(refused.to_string().contains("Collab.Land runs in this server"), "{refused}");
        assert!(fresh.check_init(&init(Mode::Exclusive, Some(Collabland))).is_ok());
        let wrong = init(Mode::Exclusive, Some(crate::workflows::incumbent::Incumbent::Matrica));
        assert!(fresh.check_init(&wrong).is_err(), "the confirmation names the bot that is here");
        assert!(fresh.check_init(&init(Mode::Shadow, None)).is_ok());
        assert!(fresh.check_init(&init(Mode::Parallel, None)).is_ok());
        assert!(none.check_init(&init(Mode::Exclusive, None)).is_ok(), "no incumbent, nothing to confirm");
    }
}
