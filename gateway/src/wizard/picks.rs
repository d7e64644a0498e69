//! The picker forms (a rule, a role, a category or a channel, by picking rather than typing)
//! and the parsing of what comes back.

use super::{
    ids::{PickForm, WizardAction},
    steps::channel_items,
};
use crate::components::{label, list_select, optional, text_input};
use arrakis_schemas::{
    ChannelKind, ValidationErrors,
    workflows::wizard::{
        WizardStatus,
        picks::{self, ChannelEdit, Combine, RoleEdit, RuleEdit, RulePick},
    },
};
use std::collections::BTreeMap;
use twilight_model::{channel::message::component::TextInputStyle, http::interaction::InteractionResponseData};

/// A picker's modal, or why it cannot open yet (no asset of the kind it needs, no rule).
pub fn pick_modal(form: PickForm, status: &WizardStatus) -> Result<InteractionResponseData, String> {
    let d = &status.draft;
    let assets = |kinds: &[arrakis_schemas::AssetKind]| -> Vec<(String, String)> {
        d.assets.iter().filter(|a| kinds.contains(&a.kind)).map(|a| (a.key.clone(), a.key.clone())).collect()
    };
    use arrakis_schemas::AssetKind::{Erc20, Erc721, Erc1155};
    let short =
        |id: &str, required: bool, hint: &str| text_input(id, TextInputStyle::Short, String::new(), required, hint);
    let select = |id: &str, options: Vec<(String, String)>, max: u8| {
        Box::new(list_select(id.to_string(), "Choose", options, max))
    };
    let name = || label("Rule name (optional)", short("key", false, "made from your choices"));
    let (title, components) = match form {
        PickForm::Holds => {
            let tokens = assets(&[Erc20, Erc1155]);
            if tokens.is_empty() {
                return Err("Add a token (ERC-20 or ERC-1155) at the assets step first.".into());
            }
            (
                "Holds at least",
                vec![
                    label("Token", select("asset", tokens, 1)),
                    label("Amount, as wallets show it", short("amount", true, "100 or 1.5")),
                    name(),
                ],
            )
        }
        PickForm::Owns => {
            let collections = assets(&[Erc721, Erc1155]);
            if collections.is_empty() {
                return Err("Add a collection (ERC-721 or ERC-1155) at the assets step first.".into());
            }
            (
                "Owns an NFT",
                vec![
                    label("Collection", select("asset", collections, 1)),
                    label("One token id only (optional)", short("token_id", false, "any token of it")),
                    name(),
                ],
            )
        }
        PickForm::Top => {
            let all = assets(&[Erc20, Erc721, Erc1155]);
            if all.is_empty() {
                return Err("Add a token or collection at the assets step first.".into());
            }
            (
                "Top holders",
                vec![
                    label("Of", select("asset", all, 1)),
                    label("How many top holders", short("n", true, "10")),
                    name(),
                ],
            )
        }
        PickForm::Combine => {
            if d.rules.is_empty() {
                return Err("Add a rule first: combining needs rules to combine.".into());
            }
            let rules: Vec<(String, String)> = d.rules.keys().map(|k| (k.clone(), k.clone())).collect();
            let most = rules.len().min(25) as u8;
            let how = vec![
                ("any".to_string(), "Any of them".to_string()),
                ("all".to_string(), "All of them".to_string()),
                ("at_least".to_string(), "At least N of them".to_string()),
            ];
            (
                "Combine rules",
                vec![
                    label("Rules", select("of", rules, most)),
                    label("Members must meet", select("how", how, 1)),
                    label("N (for at least N)", short("n", false, "2")),
                    name(),
                ],
            )
        }
        PickForm::ChangeRule => {
            let holding: Vec<(String, String)> = d
                .rules
                .iter()
                .filter(|(_, c)| matches!(c, arrakis_schemas::Condition::MinBalance { .. }))
                .map(|(k, c)| (k.clone(), format!("{k}: {}", picks::describe(c))))
                .collect();
            if holding.is_empty() {
                return Err("Add a \"Holds at least\" rule first: Edit… changes its amount or token.".into());
            }
            let tokens = assets(&[Erc20, Erc1155]);
            (
                "Edit a rule",
                vec![
                    label("Rule", select("key", holding, 1)),
                    label("Token", select("asset", tokens, 1)),
                    label("New amount, as wallets show it", short("amount", true, "150")),
                ],
            )
        }
        PickForm::Role => {
            let mut grants: Vec<(String, String)> =
                d.rules.iter().map(|(k, c)| (format!("rule:{k}"), format!("{k}: {}", picks::describe(c)))).collect();
            grants
                .extend(d.theme.spec().tiers.iter().map(|t| (format!("tier:{}", t.key), format!("Tier: {}", t.name))));
            let colours = picks::COLOURS.iter().map(|(n, c)| (c.to_string(), n.to_string())).collect();
            (
                "Add a role",
                vec![
                    label("Role name", short("name", true, "Spice Holder")),
                    label("Granted to", select("grant", grants, 1)),
                    label("Colour", select("color", colours, 1)),
                ],
            )
        }
        PickForm::ChangeRole => {
            if d.roles.is_empty() {
                return Err("Add a role first.".into());
            }
            let roles = d.roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect();
            let colours = picks::COLOURS.iter().map(|(n, c)| (c.to_string(), n.to_string())).collect();
            (
                "Rename or recolour a role",
                vec![
                    label("Role", select("key", roles, 1)),
                    label("New name (optional)", short("name", false, "keeps its name")),
                    label("New colour (optional)", optional(list_select("color".into(), "Keep", colours, 1))),
                ],
            )
        }
        PickForm::Category => {
            let mut fields = vec![label("Category name", short("name", true, "Holders' Hall"))];
            if !d.roles.is_empty() {
                let roles: Vec<(String, String)> = d.roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect();
                let most = roles.len().min(25) as u8;
                let seen = optional(list_select("visible_to".into(), "Everyone", roles, most));
                fields.push(label("Seen by (none picked: everyone)", seen));
            }
            ("Add a category", fields)
        }
        PickForm::Channel => {
            let categories: Vec<(String, String)> =
                d.channels.categories.iter().map(|c| (c.key.clone(), c.name.clone())).collect();
            if categories.is_empty() {
                return Err("Add a category first, or use the theme's channels.".into());
            }
            let kinds = [("text", "Text"), ("voice", "Voice"), ("announcement", "Announcements")]
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .to_vec();
            (
                "Add a channel",
                vec![
                    label("In category", select("category", categories, 1)),
                    label("Channel name", short("name", true, "general")),
                    label("Kind", select("kind", kinds, 1)),
                ],
            )
        }
        PickForm::Rename => {
            let items = channel_items(&d.channels);
            if items.is_empty() {
                return Err("There is no category or channel to rename yet.".into());
            }
            (
                "Rename",
                vec![label("Category or channel", select("key", items, 1)), label("New name", short("name", true, ""))],
            )
        }
    };
    Ok(InteractionResponseData {
        custom_id: Some(WizardAction::SubmitPick(form).custom_id()),
        title: Some(title.into()),
        components: Some(components),
        ..InteractionResponseData::default()
    })
}

/// What a submitted picker form asks: a rule or a role edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Picked {
    /// ELIGIBILITY_RULES.
    Rule(RuleEdit),
    /// ROLE_MAPPING.
    Role(RoleEdit),
    /// CHANNEL_STRUCTURE.
    Channel(ChannelEdit),
}

/// Turns a submitted picker form into its edit (the workflow checks the rest).
pub fn parse_pick(form: PickForm, fields: &BTreeMap<String, String>) -> Result<Picked, ValidationErrors> {
    let field = |k: &str| fields.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let key = Some(field("key")).filter(|k| !k.is_empty());
    let rule = |pick| Ok(Picked::Rule(RuleEdit::Put { key: key.clone(), pick }));
    match form {
        PickForm::Holds => rule(RulePick::HoldsAtLeast { asset: field("asset"), amount: field("amount") }),
        PickForm::Owns => {
            rule(RulePick::Owns { asset: field("asset"), token_id: Some(field("token_id")).filter(|t| !t.is_empty()) })
        }
        PickForm::Top => rule(RulePick::TopHolders { asset: field("asset"), n: field("n") }),
        PickForm::ChangeRule => Ok(Picked::Rule(RuleEdit::Change {
            key: field("key"),
            pick: RulePick::HoldsAtLeast { asset: field("asset"), amount: field("amount") },
        })),
        PickForm::Combine => {
            let how = match field("how").as_str() {
                "all" => Combine::All,
                "at_least" => Combine::AtLeast,
                "" | "any" => Combine::Any,
                other => {
                    let mut e = ValidationErrors::default();
                    e.push("how", format!("'{other}' is not any, all or at_least"));
                    return Err(e);
                }
            };
            let of = field("of").split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
            rule(RulePick::Combine { how, n: Some(field("n")).filter(|n| !n.is_empty()), of })
        }
        PickForm::Role => {
            let color = field("color");
            let Ok(color) = (if color.is_empty() { Ok(0) } else { color.parse::<u32>() }) else {
                let mut e = ValidationErrors::default();
                e.push("color", format!("'{color}' is not a colour of the list"));
                return Err(e);
            };
            Ok(Picked::Role(RoleEdit::Put { name: field("name"), grant: field("grant"), color }))
        }
        PickForm::ChangeRole => {
            let color = field("color");
            let color = match color.as_str() {
                "" => None,
                c => Some(c.parse::<u32>().map_err(|_| {
                    let mut e = ValidationErrors::default();
                    e.push("color", format!("'{c}' is not a colour of the list"));
                    e
                })?),
            };
            Ok(Picked::Role(RoleEdit::Change { key: field("key"), name: field("name"), color }))
        }
        PickForm::Category => {
            let visible_to =
                field("visible_to").split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
            Ok(Picked::Channel(ChannelEdit::AddCategory { name: field("name"), visible_to }))
        }
        PickForm::Channel => {
            let kind = match field("kind").as_str() {
                "" | "text" => ChannelKind::Text,
                "voice" => ChannelKind::Voice,
                "announcement" => ChannelKind::Announcement,
                other => {
                    let mut e = ValidationErrors::default();
                    e.push("kind", format!("'{other}' is not text, voice or announcement"));
                    return Err(e);
                }
            };
            Ok(Picked::Channel(ChannelEdit::AddChannel { category: field("category"), name: field("name"), kind }))
        }
        PickForm::Rename => Ok(Picked::Channel(ChannelEdit::Rename { key: field("key"), name: field("name") })),
    }
}
