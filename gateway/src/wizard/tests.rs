//! The wizard screens' tests: custom ids round-trip, forms parse, prompts prefill.

use super::{forms::*, ids::*, picks::*, steps::*};
use crate::components::clip;
use arrakis_schemas::{
    ChannelKind, Mode, Theme,
    workflows::{
        synthesis::RemovalChoice,
        wizard::{
            StepAnswer, WizardStatus, WizardStep,
            picks::{self, ChannelEdit, Combine, RoleEdit, RuleEdit, RulePick},
        },
    },
};
use std::collections::BTreeMap;
use twilight_model::channel::message::component::Component;

#[test]
fn custom_ids_round_trip() {
    for action in [
        WizardAction::OpenForm(WizardStep::RoleMapping),
        WizardAction::SubmitForm(WizardStep::Init),
        WizardAction::Chains,
        WizardAction::Back,
        WizardAction::Deploy(None),
        WizardAction::Deploy(Some(RemovalChoice::Remove)),
        WizardAction::Deploy(Some(RemovalChoice::Detach)),
        WizardAction::Refresh,
        WizardAction::SyncShadow,
        WizardAction::ThemeTiers,
        WizardAction::ChannelTemplate,
        WizardAction::NoChannels,
        WizardAction::Paste,
        WizardAction::Pasted,
        WizardAction::Remove(WizardStep::RoleMapping),
        WizardAction::Next(WizardStep::EligibilityRules),
    ]
    .into_iter()
    .chain(AssetAction::ALL.map(|(a, _)| WizardAction::Asset(a)))
    .chain(PickForm::ALL.map(|(f, _)| WizardAction::OpenPick(f)))
    .chain(PickForm::ALL.map(|(f, _)| WizardAction::SubmitPick(f)))
    {
        assert_eq!(WizardAction::parse(&action.custom_id()), Some(action));
    }
    assert_eq!(WizardAction::parse("wiz:pick:nope"), None);
    assert_eq!(WizardAction::parse("wiz:open:NOPE"), None);
    assert_eq!(WizardAction::parse("wiz:deploy:later"), None);
    assert_eq!(WizardAction::parse("other:open:INIT"), None);
}

#[test]
fn every_form_step_has_a_modal_of_at_most_five_labels() {
    let status = WizardStatus::default();
    for step in WizardStep::ALL {
        match modal(step, &status) {
            Some(m) => {
                let components = m.components.expect("components");
                assert!((1..=5).contains(&components.len()));
                assert!(components.iter().all(|c| matches!(c, Component::Label(_))));
                assert!(m.title.expect("title").chars().count() <= 45);
            }
            None => assert!(matches!(step, WizardStep::ChainSelect | WizardStep::Review | WizardStep::Deploy)),
        }
    }
}

#[test]
fn every_picker_is_a_modal_of_at_most_five_labels_and_its_fields_parse() {
    use arrakis_schemas::{Asset, AssetKind};
    let mut status = WizardStatus { step: WizardStep::EligibilityRules, ..WizardStatus::default() };
    let always = [PickForm::Role, PickForm::Category];
    for form in PickForm::ALL.map(|(f, _)| f).into_iter().filter(|f| !always.contains(f)) {
        assert!(pick_modal(form, &status).is_err(), "{form:?} needs an asset, rule, role or category first");
    }
    status.draft.assets = [("spice", AssetKind::Erc20), ("worm", AssetKind::Erc721)]
        .map(|(key, kind)| Asset {
            key: key.into(),
            chain_id: 1,
            kind,
            address: String::new(),
            token_id: None,
            decimals: None,
        })
        .to_vec();
    status.draft.rules.insert("a".into(), arrakis_schemas::Condition::Rule("b".into()));
    status
        .draft
        .rules
        .insert("rich".into(), arrakis_schemas::Condition::MinBalance { asset: "spice".into(), amount: "100".into() });
    status.draft.roles = RoleEdit::ThemeTiers.roles(&status.draft).expect("tiers");
    status.draft.channels = picks::channel_template(&status.draft);
    for (form, _) in PickForm::ALL {
        let m = pick_modal(form, &status).expect("opens");
        let components = m.components.expect("components");
        assert!((1..=5).contains(&components.len()), "{form:?}");
        assert!(components.iter().all(|c| matches!(c, Component::Label(_))));
        assert!(m.title.expect("title").chars().count() <= 45);
        assert_eq!(m.custom_id, Some(WizardAction::SubmitPick(form).custom_id()));
    }
    let fields = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let combine = parse_pick(PickForm::Combine, &fields(&[("of", "a,b"), ("how", "at_least"), ("n", "2")]));
    assert_eq!(
        combine.expect("parses"),
        Picked::Rule(RuleEdit::Put {
            key: None,
            pick: RulePick::Combine { how: Combine::AtLeast, n: Some("2".into()), of: vec!["a".into(), "b".into()] }
        })
    );
    assert!(parse_pick(PickForm::Combine, &fields(&[("how", "most")])).expect_err("how").has("how"));
    assert!(parse_pick(PickForm::Role, &fields(&[("color", "red")])).expect_err("colour").has("color"));
    assert_eq!(
        parse_pick(PickForm::ChangeRule, &fields(&[("key", "rich"), ("asset", "spice"), ("amount", " 150 ")]))
            .expect("edit"),
        Picked::Rule(RuleEdit::Change {
            key: "rich".into(),
            pick: RulePick::HoldsAtLeast { asset: "spice".into(), amount: "150".into() }
        })
    );
    assert_eq!(
        parse_pick(PickForm::ChangeRole, &fields(&[("key", "gold"), ("name", ""), ("color", "")])).expect("keeps"),
        Picked::Role(RoleEdit::Change { key: "gold".into(), name: String::new(), color: None })
    );
    assert_eq!(
        parse_pick(PickForm::Category, &fields(&[("name", "Hall"), ("visible_to", "gold, silver")])).expect("ok"),
        Picked::Channel(ChannelEdit::AddCategory {
            name: "Hall".into(),
            visible_to: vec!["gold".into(), "silver".into()]
        })
    );
    assert_eq!(
        parse_pick(PickForm::Channel, &fields(&[("category", "hall"), ("name", "Stage"), ("kind", "voice")]))
            .expect("ok"),
        Picked::Channel(ChannelEdit::AddChannel {
            category: "hall".into(),
            name: "Stage".into(),
            kind: ChannelKind::Voice
        })
    );
    assert!(parse_pick(PickForm::Channel, &fields(&[("kind", "forum")])).expect_err("kind").has("kind"));
}

#[test]
fn try_again_gets_back_what_was_typed() {
    let typed: BTreeMap<String, String> =
        [("address", "0x1234"), ("token_id", ""), ("roles", "a | A | rule:x\nb | B | tier:gold")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
    let refusal = rejected(WizardStep::RoleMapping, "roles[0].grant.rule: no rule", &typed);
    let shown = typed_in_rejection(refusal.content.as_deref().expect("content"));
    let expected: BTreeMap<String, String> = typed.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    assert_eq!(shown, expected);
    assert!(typed_in_rejection("**Arrakis setup — step 5/8**").is_empty());
    let mut form = modal(WizardStep::RoleMapping, &WizardStatus::default()).expect("roles form");
    prefill(&mut form, &shown);
    assert!(format!("{form:?}").contains("tier:gold"));
}

#[test]
fn a_modal_opened_from_its_prompt_is_the_one_the_status_would_give() {
    let manifest: arrakis_schemas::CommunityManifest =
        serde_json::from_str(include_str!("../../../schemas/examples/sietch-tabr.json")).expect("the example manifest");
    let mut status = WizardStatus::default();
    status.draft.name = Some("Sietch · Tabr".into());
    status.draft.theme = Theme::Sietch;
    status.draft.mode = Mode::Parallel;
    status.draft.chains = manifest.chains.clone();
    status.draft.assets = manifest.assets.clone();
    status.draft.rules = manifest.rules.clone();
    status.draft.roles = manifest.roles.clone();
    status.draft.channels = manifest.channels.clone();
    let step = WizardStep::Init;
    status.step = step;
    let shown = prompt(&status).content.expect("content");
    let from_prompt = modal_from_prompt(step, &shown).unwrap_or_else(|| panic!("{step:?}: {shown}"));
    assert_eq!(Some(from_prompt), modal(step, &status), "{step:?}");
    // The picker steps show their lists in words: "Edit as text" asks Temporal for the draft.
    for step in
        [WizardStep::AssetConfig, WizardStep::EligibilityRules, WizardStep::RoleMapping, WizardStep::ChannelStructure]
    {
        status.step = step;
        assert_eq!(modal_from_prompt(step, &prompt(&status).content.expect("content")), None, "{step:?}");
    }
    // What the prompt cannot show (roles still to be suggested) is asked of Temporal.
    status.step = WizardStep::RoleMapping;
    status.draft.roles.clear();
    assert_eq!(modal_from_prompt(WizardStep::RoleMapping, &prompt(&status).content.expect("content")), None);
}

#[test]
fn a_form_parses_into_its_answer() {
    let fields =
        BTreeMap::from([("name".to_string(), " Sietch ".to_string()), ("theme".to_string(), "sietch".to_string())]);
    assert_eq!(
        parse_form(WizardStep::Init, &fields).expect("init"),
        StepAnswer::Init {
            name: "Sietch".into(),
            theme: Theme::Sietch,
            mode: Mode::Exclusive,
            operator_channel_id: None,
            beside: None,
        }
    );
    let fields = BTreeMap::from([("rules".to_string(), "a = nope(".to_string())]);
    assert!(parse_form(WizardStep::EligibilityRules, &fields).is_err());
}

#[test]
fn long_content_is_clipped_to_discords_limit() {
    assert_eq!(clip("x".repeat(5_000)).chars().count(), arrakis_schemas::Limits::MESSAGE_MAX);
}

#[test]
fn the_setup_line_stops_repeating_a_deploy_the_mode_has_moved_on_from() {
    let mut status = WizardStatus { step: WizardStep::Deploy, deployed_version: Some(3), ..WizardStatus::default() };
    status.draft.mode = Mode::Shadow;
    status.summary = Some("Saved **Sietch** (manifest v3) in shadow mode: nothing changes in Discord.".into());
    let same = super::answer::setup_line(&status, Some(Mode::Shadow));
    assert!(same.contains("nothing changes in Discord"), "{same}");
    assert_eq!(super::answer::setup_line(&status, None), same, "unknown mode: the deploy's words stand");
    let moved = super::answer::setup_line(&status, Some(Mode::Primary));
    assert_eq!(moved, "manifest v3 deployed in shadow mode; the community has moved to primary mode since.");
}

#[test]
fn beside_a_detected_incumbent_init_names_it_and_exclusive_is_a_confirmation() {
    use arrakis_schemas::workflows::incumbent::Incumbent;
    let mut status = WizardStatus { incumbent: Some(Incumbent::Collabland), ..WizardStatus::default() };
    status.draft.mode = Mode::Shadow;
    let text = prompt(&status).content.unwrap_or_default();
    assert!(text.contains("Collab.Land runs in this server"), "{text}");
    let form = serde_json::to_string(&modal(WizardStep::Init, &status).expect("modal")).expect("json");
    assert!(
        form.contains("Shadow: watch beside Collab.Land") && form.contains("exclusive_beside:collabland"),
        "{form}"
    );
    let fields = |mode: &str| {
        BTreeMap::from([("name".to_string(), "Sietch".to_string()), ("mode".to_string(), mode.to_string())])
    };
    let confirmed = parse_form(WizardStep::Init, &fields("exclusive_beside:collabland")).expect("init");
    assert!(matches!(confirmed, StepAnswer::Init { mode: Mode::Exclusive, beside: Some(Incumbent::Collabland), .. }));
    let plain = parse_form(WizardStep::Init, &fields("exclusive")).expect("init");
    assert!(matches!(plain, StepAnswer::Init { mode: Mode::Exclusive, beside: None, .. }));
    assert!(parse_form(WizardStep::Init, &fields("exclusive_beside:mee6")).is_err());
}

#[test]
fn shadow_review_creates_nothing_and_says_what_parallel_would() {
    use arrakis_schemas::{
        RoleGrant, RoleSpec,
        plan::ItemKind,
        workflows::{
            incumbent::Incumbent,
            wizard::{DeployPlan, PlannedItem},
        },
    };
    let mut status = WizardStatus { incumbent: Some(Incumbent::Collabland), ..WizardStatus::default() };
    status.draft.mode = Mode::Shadow;
    status.draft.roles = vec![RoleSpec {
        key: "holder".into(),
        name: "Holder".into(),
        color: 0,
        hoist: false,
        mentionable: false,
        grant: RoleGrant::Rule("holder".into()),
        permissions: None,
    }];
    let item = PlannedItem { kind: ItemKind::Role, key: "holder".into(), name: "Holder".into(), detail: None };
    status.plan = Some(DeployPlan { create: vec![item], ..DeployPlan::default() });
    let text = super::review::screen(&status).content.unwrap_or_default();
    assert!(!text.contains("Will create"), "{text}");
    assert!(text.contains("Nothing changes in Discord") && text.contains("@arrakis-holder"), "{text}");
    assert!(text.contains("never Collab.Land's"), "{text}");
    status.draft.mode = Mode::Exclusive;
    assert!(super::review::screen(&status).content.unwrap_or_default().contains("Will create"));
}
