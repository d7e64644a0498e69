//! Rules and roles from pickers: what the operator chose in a form (an asset from a select,
//! an amount as wallets show it, a number of top holders, rules to combine, a role's name and
//! colour) turned into the manifest's conditions and roles, so no one has to learn the line
//! syntax. The words each rule and grant are shown in come from here too.

use crate::{
    AssetKind, Category, Channel, ChannelKind, ChannelPlan, ChannelStrategy, Condition, Limits, RoleGrant, RoleSpec,
    Theme, ValidationErrors,
    eligibility::{BaseUnits, ThemeSpec},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::WizardDraft;
use crate::key_from;

/// Update name: add or remove a rule of the draft from pickers.
pub const RULE_UPDATE: &str = "rule";
/// Update name: add or remove roles of the draft from pickers or the theme's template.
pub const ROLE_UPDATE: &str = "role";
/// Update name: the theme's channel template, or one category or channel added, renamed or
/// removed from pickers.
pub const CHANNEL_UPDATE: &str = "channel";

/// How combined rules must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every one of them.
    All,
    /// Any one of them.
    Any,
    /// At least N of them.
    AtLeast,
}

/// One rule, as picked in a form. Numbers arrive as typed, so a typo is refused naming the
/// field rather than failing to decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum RulePick {
    /// Holds at least `amount` (as wallets show it: "1.5") of a token.
    HoldsAtLeast {
        /// The asset's key.
        asset: String,
        /// The amount in display units.
        amount: String,
    },
    /// Owns a token of a collection: any, or one token id.
    Owns {
        /// The collection's key.
        asset: String,
        /// One token of it (ERC-721), if only that one counts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_id: Option<String>,
    },
    /// Is among the top `n` holders of an asset (the Score Service's rank).
    TopHolders {
        /// The asset's key.
        asset: String,
        /// How many.
        n: String,
    },
    /// Combines rules already defined.
    Combine {
        /// All, any or at least N.
        how: Combine,
        /// N, for `at_least`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<String>,
        /// The rules' keys.
        of: Vec<String>,
    },
}

/// The `rule` update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "edit", deny_unknown_fields)]
pub enum RuleEdit {
    /// Adds a rule (a key is derived from the pick when none is given).
    Put {
        /// The rule's key, if the operator named it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// What it asks.
        pick: RulePick,
    },
    /// Removes a rule, by key.
    Remove {
        /// The rule's key.
        key: String,
    },
    /// Changes what a rule asks (its amount or its token, say), by key; its key, and the roles
    /// it grants, stay.
    Change {
        /// The rule's key.
        key: String,
        /// What it asks from now on.
        pick: RulePick,
    },
}

/// The palette the role form offers: (name, RGB).
pub const COLOURS: [(&str, u32); 9] = [
    ("Gold", 0xf1c40f),
    ("Orange", 0xe67e22),
    ("Red", 0xe74c3c),
    ("Purple", 0x9b59b6),
    ("Blue", 0x3498db),
    ("Teal", 0x1abc9c),
    ("Green", 0x2ecc71),
    ("Grey", 0x95a5a6),
    ("No colour", 0),
];

/// The `role` update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "edit", deny_unknown_fields)]
pub enum RoleEdit {
    /// Adds a role granted by a rule (`rule:KEY`) or a tier (`tier:KEY`).
    Put {
        /// The name members see.
        name: String,
        /// `rule:KEY` or `tier:KEY`, as the form's select offers them.
        grant: String,
        /// RGB, one of [`COLOURS`] or any 24-bit value.
        #[serde(default)]
        color: u32,
    },
    /// Adds a role for each tier of the theme the draft does not grant yet.
    ThemeTiers,
    /// Removes a role, by key.
    Remove {
        /// The role's key.
        key: String,
    },
    /// Renames or recolours a role, by key; its key, its grant and what it sees stay.
    Change {
        /// The role's key.
        key: String,
        /// The new name; empty keeps the name.
        #[serde(default)]
        name: String,
        /// The new RGB colour; absent keeps the colour.
        #[serde(default)]
        color: Option<u32>,
    },
}

/// The `channel` update's payload: CHANNEL_STRUCTURE edited in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "edit", deny_unknown_fields)]
pub enum ChannelEdit {
    /// The theme's template ([`channel_template`]) in place of the draft's channels.
    Template,
    /// Adds a category, seen only by the roles picked (none picked: by everyone).
    AddCategory {
        /// The name members see.
        name: String,
        /// Keys of the draft's roles.
        #[serde(default)]
        visible_to: Vec<String>,
    },
    /// Adds a channel to a category; it sees what its category sees.
    AddChannel {
        /// The category's key.
        category: String,
        /// The name members see.
        name: String,
        /// Text, voice or announcement.
        #[serde(default)]
        kind: ChannelKind,
    },
    /// Renames a category or a channel, by key.
    Rename {
        /// The category's or channel's key.
        key: String,
        /// The new name.
        name: String,
    },
    /// Removes a category with its channels, or a channel, by key.
    Remove {
        /// The category's or channel's key.
        key: String,
    },
}

impl ChannelEdit {
    /// The draft's channels with the edit applied; the manifest's validator checks the rest
    /// (names, limits). Keys come from names and are unique over categories and channels.
    pub fn channels(&self, draft: &WizardDraft) -> Result<ChannelPlan, ValidationErrors> {
        let mut plan = draft.channels.clone();
        let taken = |plan: &ChannelPlan, k: &str| {
            plan.categories.iter().any(|c| c.key == k || c.channels.iter().any(|ch| ch.key == k))
        };
        let required = |field: &str, value: &str| match value.trim() {
            "" => Err(one(field, "a name is required")),
            name => Ok(name.to_string()),
        };
        match self {
            Self::Template => return Ok(channel_template(draft)),
            Self::AddCategory { name, visible_to } => {
                let name = required("name", name)?;
                if let Some(unknown) = visible_to.iter().find(|k| !draft.roles.iter().any(|r| &r.key == *k)) {
                    return Err(one("visible_to", format!("'{unknown}' is not a role of the draft")));
                }
                let key = key_from([name.as_str()], "category", |k| taken(&plan, k));
                plan.categories.push(Category { key, name, visible_to: visible_to.clone(), channels: vec![] });
            }
            Self::AddChannel { category, name, kind } => {
                let name = required("name", name)?;
                let key = key_from([name.as_str()], "channel", |k| taken(&plan, k));
                let Some(at) = plan.categories.iter_mut().find(|c| &c.key == category) else {
                    return Err(one("category", format!("no category '{category}' in the draft")));
                };
                at.channels.push(Channel { key, name, kind: *kind, topic: None, visible_to: vec![] });
            }
            Self::Rename { key, name } => {
                let name = required("name", name)?;
                let category = plan.categories.iter_mut().find(|c| &c.key == key);
                match category {
                    Some(c) => c.name = name,
                    None => {
                        let channel =
                            plan.categories.iter_mut().flat_map(|c| c.channels.iter_mut()).find(|ch| &ch.key == key);
                        let Some(channel) = channel else {
                            return Err(one("key", format!("no category or channel '{key}' in the draft")));
                        };
                        channel.name = name;
                    }
                }
            }
            Self::Remove { key } => {
                if !taken(&plan, key) {
                    return Err(one("key", format!("no category or channel '{key}' in the draft")));
                }
                plan.categories.retain(|c| &c.key != key);
                for c in &mut plan.categories {
                    c.channels.retain(|ch| &ch.key != key);
                }
            }
        }
        plan.strategy = if plan.categories.is_empty() { ChannelStrategy::None } else { ChannelStrategy::Custom };
        Ok(plan)
    }
}

fn one(field: &str, rule: impl Into<String>) -> ValidationErrors {
    let mut e = ValidationErrors::default();
    e.push(field, rule);
    e
}

fn derived_key<'a>(words: impl IntoIterator<Item = &'a str>, taken: impl Fn(&str) -> bool) -> String {
    crate::key_from(words, "rule", taken)
}

/// A display amount as typed, cleaned: thousands separators (`10,000`, `10_000`, `10 000`)
/// dropped; anything else is left for the exact conversion to judge.
fn clean_amount(typed: &str) -> String {
    let typed = typed.trim();
    let (int, frac) = typed.split_once('.').unwrap_or((typed, ""));
    let groups: Vec<&str> = int.split([',', '_', ' ']).collect();
    let grouped = groups.len() > 1
        && !groups[0].is_empty()
        && groups[0].len() <= 3
        && groups[1..].iter().all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    let int = if grouped { groups.concat() } else { int.to_string() };
    if typed.contains('.') { format!("{int}.{frac}") } else { int }
}

impl RulePick {
    /// The condition, checked against the draft's assets and rules: the asset exists and is
    /// of a kind the rule reads, an amount is exact in the token's decimals and above zero,
    /// numbers are whole. Errors name the form's field.
    pub fn condition(&self, draft: &WizardDraft) -> Result<Condition, ValidationErrors> {
        let asset_of = |key: &str, kinds: &[AssetKind], what: &str| {
            let Some(asset) = draft.assets.iter().find(|a| a.key == key) else {
                let keys: Vec<&str> = draft.assets.iter().map(|a| a.key.as_str()).collect();
                return Err(one("asset", format!("no asset '{key}' in the draft (it has: {})", keys.join(", "))));
            };
            if !kinds.contains(&asset.kind) {
                return Err(one("asset", format!("'{key}' is not {what}")));
            }
            Ok(asset)
        };
        match self {
            Self::HoldsAtLeast { asset, amount } => {
                let a = asset_of(asset, &[AssetKind::Erc20, AssetKind::Erc1155], "a token (ERC-20 or ERC-1155)")?;
                let decimals = if a.kind == AssetKind::Erc20 { a.decimals.unwrap_or(18) } else { 0 };
                let amount = clean_amount(amount);
                if amount.is_empty() {
                    return Err(one("amount", "enter how many, as wallets show it (e.g. 100 or 1.5)"));
                }
                if amount.starts_with('-') {
                    return Err(one("amount", format!("'{amount}' is negative: enter 0 or more")));
                }
                let base = BaseUnits::from_display(&amount, decimals).map_err(|_| {
                    one(
                        "amount",
                        format!(
                            "'{amount}' is not an amount of {asset}: digits with at most {decimals} after the point \
                             ({asset} has {decimals} decimals)"
                        ),
                    )
                })?;
                if base.is_zero() {
                    return Err(one("amount", "must be more than 0 (at least 0 is everyone)"));
                }
                Ok(Condition::MinBalance { asset: asset.clone(), amount })
            }
            Self::Owns { asset, token_id } => {
                asset_of(asset, &[AssetKind::Erc721, AssetKind::Erc1155], "a collection (ERC-721 or ERC-1155)")?;
                let token_id = token_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
                if let Some(t) = token_id
                    && (t.len() > 78 || !t.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(one("token_id", format!("'{t}' is not a whole number")));
                }
                Ok(Condition::OwnsNft { asset: asset.clone(), token_id: token_id.map(str::to_string) })
            }
            Self::TopHolders { asset, n } => {
                asset_of(asset, &[AssetKind::Erc20, AssetKind::Erc721, AssetKind::Erc1155], "an asset")?;
                let n = n.trim();
                match n.parse::<u32>() {
                    Ok(rank) if rank >= 1 => Ok(Condition::RankAtMost { asset: asset.clone(), rank }),
                    _ => Err(one("n", format!("'{n}' is not a whole number of holders from 1 up"))),
                }
            }
            Self::Combine { how, n, of } => {
                let mut errors = ValidationErrors::default();
                if of.is_empty() {
                    errors.push("of", "choose the rules to combine");
                }
                for key in of.iter().filter(|k| !draft.rules.contains_key(*k)) {
                    errors.push("of", format!("no rule '{key}' in the draft"));
                }
                let items: Vec<Condition> = of.iter().map(|k| Condition::Rule(k.clone())).collect();
                let condition = match how {
                    Combine::All => Condition::AllOf(items),
                    Combine::Any => Condition::AnyOf(items),
                    Combine::AtLeast => {
                        let typed = n.as_deref().unwrap_or_default().trim();
                        match typed.parse::<u32>() {
                            Ok(n) if n >= 1 && n as usize <= of.len() => Condition::AtLeast { n, of: items },
                            _ => {
                                errors.push("n", format!("'{typed}' is not a number from 1 to {}", of.len()));
                                Condition::AnyOf(items)
                            }
                        }
                    }
                };
                errors.into_result().map(|()| condition)
            }
        }
    }

    /// The key a rule gets when the operator does not name it: `spice-100`, `worm-holder`,
    /// `spice-top-10`, `any-of-a-b`.
    pub fn derived_key(&self, draft: &WizardDraft) -> String {
        let taken = |k: &str| draft.rules.contains_key(k);
        match self {
            Self::HoldsAtLeast { asset, amount } => derived_key([asset.as_str(), &clean_amount(amount)], taken),
            Self::Owns { asset, token_id: Some(t) } if !t.trim().is_empty() => {
                derived_key([asset.as_str(), t.trim()], taken)
            }
            Self::Owns { asset, .. } => derived_key([asset.as_str(), "holder"], taken),
            Self::TopHolders { asset, n } => derived_key([asset.as_str(), "top", n.trim()], taken),
            Self::Combine { how, of, .. } => {
                let how = match how {
                    Combine::All => "all-of",
                    Combine::Any => "any-of",
                    Combine::AtLeast => "some-of",
                };
                derived_key(std::iter::once(how).chain(of.iter().map(String::as_str)), taken)
            }
        }
    }
}

impl RuleEdit {
    /// The draft's rules with the edit applied, or why not (the key is checked by the
    /// manifest's validator, with the rest).
    pub fn rules(
        &self,
        draft: &WizardDraft,
    ) -> Result<std::collections::BTreeMap<String, Condition>, ValidationErrors> {
        let mut rules = draft.rules.clone();
        match self {
            Self::Put { key, pick } => {
                let condition = pick.condition(draft)?;
                let key = match key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
                    Some(k) => k.to_string(),
                    None => pick.derived_key(draft),
                };
                if rules.contains_key(&key) {
                    return Err(one("key", format!("a rule '{key}' exists already: name this one differently")));
                }
                rules.insert(key, condition);
            }
            Self::Remove { key } => {
                if rules.remove(key).is_none() {
                    return Err(one("key", format!("no rule '{key}' in the draft")));
                }
                let refers = |c: &Condition| {
                    let mut found = false;
                    c.for_each_leaf(&mut |leaf| found |= matches!(leaf, Condition::Rule(k) if k == key));
                    found
                };
                if let Some((by, _)) = rules.iter().find(|(_, c)| refers(c)) {
                    return Err(one("key", format!("rule '{by}' combines '{key}': remove that one first")));
                }
            }
            Self::Change { key, pick } => {
                if !rules.contains_key(key) {
                    return Err(one("key", format!("no rule '{key}' in the draft")));
                }
                let condition = pick.condition(draft)?;
                let mut itself = false;
                condition.for_each_leaf(&mut |leaf| itself |= matches!(leaf, Condition::Rule(k) if k == key));
                if itself {
                    return Err(one("pick", format!("rule '{key}' cannot combine itself")));
                }
                rules.insert(key.clone(), condition);
            }
        }
        Ok(rules)
    }
}

impl RoleEdit {
    /// The draft's roles with the edit applied. A role's key comes from its name; a grant
    /// must be one the form offered (a rule of the draft or a tier of its theme).
    pub fn roles(&self, draft: &WizardDraft) -> Result<Vec<RoleSpec>, ValidationErrors> {
        let mut roles = draft.roles.clone();
        let taken = |roles: &[RoleSpec], k: &str| roles.iter().any(|r| r.key == k);
        match self {
            Self::Put { name, grant, color } => {
                let grant = match grant.split_once(':') {
                    Some(("rule", key)) if draft.rules.contains_key(key) => RoleGrant::Rule(key.to_string()),
                    Some(("tier", key)) if draft.theme.tiers().contains(&key) => RoleGrant::Tier(key.to_string()),
                    _ => {
                        return Err(one(
                            "grant",
                            format!("'{grant}' is not a rule of the draft or a tier of its theme"),
                        ));
                    }
                };
                if *color > 0xff_ffff {
                    return Err(one("color", format!("{color} is not a 24-bit RGB colour")));
                }
                let key = derived_key([name.as_str()], |k| taken(&roles, k));
                roles.push(role(key, name.trim(), grant, *color));
            }
            Self::ThemeTiers => {
                let spec: &ThemeSpec = draft.theme.spec();
                for (i, band) in spec.tiers.iter().enumerate() {
                    let granted = roles.iter().any(|r| r.grant == RoleGrant::Tier(band.key.to_string()));
                    if !granted {
                        let key = derived_key([band.key], |k| taken(&roles, k));
                        let colour = COLOURS.get(i).map_or(0, |(_, c)| *c);
                        roles.push(role(key, band.name, RoleGrant::Tier(band.key.to_string()), colour));
                    }
                }
            }
            Self::Remove { key } => {
                let before = roles.len();
                roles.retain(|r| &r.key != key);
                if roles.len() == before {
                    return Err(one("key", format!("no role '{key}' in the draft")));
                }
            }
            Self::Change { key, name, color } => {
                let Some(role) = roles.iter_mut().find(|r| &r.key == key) else {
                    return Err(one("key", format!("no role '{key}' in the draft")));
                };
                if name.trim().is_empty() && color.is_none() {
                    return Err(one("name", "give a new name, a colour, or both"));
                }
                if let Some(color) = color {
                    if *color > 0xff_ffff {
                        return Err(one("color", format!("{color} is not a 24-bit RGB colour")));
                    }
                    role.color = *color;
                }
                if !name.trim().is_empty() {
                    role.name = name.trim().to_string();
                }
            }
        }
        Ok(roles)
    }
}

/// The theme's channel template for the draft's roles: a category per role, named after it
/// and seen only by it, with a text and a voice channel. The operator edits it item by item
/// ([`ChannelEdit`]) or as text.
pub fn channel_template(draft: &WizardDraft) -> ChannelPlan {
    let (text, voice) = match draft.theme {
        Theme::Basic => ("chat", "Lounge"),
        Theme::Sietch => ("sietch", "Cave of Birds"),
    };
    let categories = draft
        .roles
        .iter()
        .map(|r| {
            let stem: String = r.key.chars().take(Limits::KEY_MAX - 10).collect();
            let stem = stem.trim_end_matches('-');
            Category {
                key: format!("{stem}-area"),
                name: r.name.clone(),
                visible_to: vec![r.key.clone()],
                channels: vec![
                    Channel {
                        key: format!("{stem}-text"),
                        name: text.into(),
                        kind: ChannelKind::Text,
                        topic: None,
                        visible_to: vec![],
                    },
                    Channel {
                        key: format!("{stem}-voice"),
                        name: voice.into(),
                        kind: ChannelKind::Voice,
                        topic: None,
                        visible_to: vec![],
                    },
                ],
            }
        })
        .collect();
    ChannelPlan { strategy: ChannelStrategy::Custom, categories }
}

fn role(key: String, name: &str, grant: RoleGrant, color: u32) -> RoleSpec {
    RoleSpec { key, name: name.to_string(), color, hoist: true, mentionable: false, grant, permissions: None }
}

/// A rule in words: "holds at least 100 spice", "owns any worm", "is in the top 10 holders
/// of spice", "all of: holder, whale".
pub fn describe(condition: &Condition) -> String {
    let list = |items: &[Condition]| items.iter().map(describe).collect::<Vec<_>>().join(", ");
    match condition {
        Condition::MinBalance { asset, amount } => format!("holds at least {amount} {asset}"),
        Condition::OwnsNft { asset, token_id: None } => format!("owns any {asset}"),
        Condition::OwnsNft { asset, token_id: Some(t) } => format!("owns {asset} #{t}"),
        Condition::RankAtMost { asset, rank } => format!("is in the top {rank} holders of {asset}"),
        Condition::ScoreAtLeast { asset, score } => format!("has a {asset} score of at least {score}"),
        Condition::Rule(key) => format!("`{key}`"),
        Condition::AllOf(items) => format!("all of: {}", list(items)),
        Condition::AnyOf(items) => format!("any of: {}", list(items)),
        Condition::AtLeast { n, of } => format!("at least {n} of: {}", list(of)),
    }
}

/// A role's grant in words: "members who hold at least 100 spice", "the Gold tier (ranks 1–10)".
pub fn describe_grant(theme: Theme, draft: &WizardDraft, grant: &RoleGrant) -> String {
    match grant {
        RoleGrant::Rule(key) => match draft.rules.get(key) {
            Some(c) => format!("members who meet `{key}` ({})", describe(c)),
            None => format!("members who meet `{key}`"),
        },
        RoleGrant::Tier(key) => match theme.spec().tiers.iter().find(|t| t.key == key) {
            Some(band) => match band.to {
                Some(to) => format!("the {} tier (holders ranked {}–{to})", band.name, band.from),
                None => format!("the {} tier (holders ranked {} and below)", band.name, band.from),
            },
            None => format!("the {key} tier"),
        },
        RoleGrant::Badge(key) => match theme.spec().badges.iter().find(|b| b.key == key) {
            Some(badge) => format!("holders of the {} badge", badge.name),
            None => format!("holders of the {key} badge"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Asset;

    fn draft() -> WizardDraft {
        let mut d = WizardDraft::new();
        d.chains = vec![31337];
        d.assets = vec![
            Asset {
                key: "spice".into(),
                chain_id: 31337,
                kind: AssetKind::Erc20,
                address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
                token_id: None,
                decimals: Some(18),
            },
            Asset {
                key: "worm".into(),
                chain_id: 31337,
                kind: AssetKind::Erc721,
                address: "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359".into(),
                token_id: None,
                decimals: None,
            },
        ];
        d
    }

    fn holds(amount: &str) -> RulePick {
        RulePick::HoldsAtLeast { asset: "spice".into(), amount: amount.into() }
    }

    #[test]
    fn an_amount_is_exact_in_the_tokens_decimals_and_keyed_by_it() {
        let d = draft();
        assert_eq!(
            holds("1.5").condition(&d).expect("exact"),
            Condition::MinBalance { asset: "spice".into(), amount: "1.5".into() }
        );
        assert_eq!(BaseUnits::from_display("1.5", 18).expect("exact").as_str(), "1500000000000000000");
        assert_eq!(holds("10,000").condition(&d).expect("grouped"), holds("10000").condition(&d).expect("plain"));
        assert_eq!(holds("10,000").derived_key(&d), "spice-10000");
        for (typed, says) in [
            ("1.0000000000000000001", "at most 18 after the point"),
            ("-5", "negative"),
            ("", "enter how many"),
            ("0", "more than 0"),
            ("1,5", "not an amount"),
            ("ten", "not an amount"),
        ] {
            let e = holds(typed).condition(&d).expect_err(typed);
            assert!(e.has("amount") && e.to_string().contains(says), "{typed}: {e}");
        }
        let e = RulePick::HoldsAtLeast { asset: "worm".into(), amount: "1".into() }.condition(&d).expect_err("nft");
        assert!(e.has("asset") && e.to_string().contains("not a token"), "{e}");
    }

    #[test]
    fn picks_become_conditions_with_keys_that_do_not_collide() {
        let mut d = draft();
        let owns = RulePick::Owns { asset: "worm".into(), token_id: None };
        assert_eq!(owns.condition(&d).expect("owns"), Condition::OwnsNft { asset: "worm".into(), token_id: None });
        assert_eq!(owns.derived_key(&d), "worm-holder");
        d.rules = RuleEdit::Put { key: None, pick: owns.clone() }.rules(&d).expect("added");
        assert_eq!(owns.derived_key(&d), "worm-holder-2");
        let top = RulePick::TopHolders { asset: "spice".into(), n: " 10 ".into() };
        assert_eq!(top.condition(&d).expect("top"), Condition::RankAtMost { asset: "spice".into(), rank: 10 });
        let e = RulePick::TopHolders { asset: "spice".into(), n: "0".into() }.condition(&d).expect_err("zero");
        assert!(e.has("n"), "{e}");
        d.rules = RuleEdit::Put { key: Some("rich".into()), pick: holds("100") }.rules(&d).expect("named");
        let both = RulePick::Combine {
            how: Combine::AtLeast,
            n: Some("2".into()),
            of: vec!["rich".into(), "worm-holder".into()],
        };
        let at_least = both.condition(&d).expect("combined");
        assert!(matches!(at_least, Condition::AtLeast { n: 2, .. }), "{at_least:?}");
        assert_eq!(describe(&at_least), "at least 2 of: `rich`, `worm-holder`");
        let too_many = RulePick::Combine { how: Combine::AtLeast, n: Some("3".into()), of: vec!["rich".into()] };
        assert!(too_many.condition(&d).expect_err("3 of 1").has("n"));
        let e = RuleEdit::Put { key: Some("rich".into()), pick: holds("5") }.rules(&d).expect_err("taken");
        assert!(e.has("key"), "{e}");
        d.rules = RuleEdit::Put { key: Some("both".into()), pick: both }.rules(&d).expect("added");
        let e = RuleEdit::Remove { key: "rich".into() }.rules(&d).expect_err("combined by another");
        assert!(e.to_string().contains("rule 'both' combines 'rich'"), "{e}");
        // "Edit…": raising a threshold keeps the rule's key, and so the roles it grants.
        let raised = RuleEdit::Change { key: "rich".into(), pick: holds("150") }.rules(&d).expect("changed");
        assert_eq!(raised.len(), d.rules.len());
        assert_eq!(raised["rich"], holds("150").condition(&d).expect("150"));
        let e = RuleEdit::Change { key: "nope".into(), pick: holds("1") }.rules(&d).expect_err("no such rule");
        assert!(e.has("key"), "{e}");
        let e = RuleEdit::Change { key: "rich".into(), pick: holds("-1") }.rules(&d).expect_err("negative");
        assert!(e.has("amount"), "{e}");
        let itself = RulePick::Combine { how: Combine::Any, n: None, of: vec!["rich".into(), "both".into()] };
        let e = RuleEdit::Change { key: "both".into(), pick: itself }.rules(&d).expect_err("cycle");
        assert!(e.has("pick"), "{e}");
    }

    #[test]
    fn roles_come_from_rules_or_the_themes_tiers() {
        let mut d = draft();
        d.rules = RuleEdit::Put { key: None, pick: RulePick::Owns { asset: "worm".into(), token_id: None } }
            .rules(&d)
            .expect("rule");
        d.roles = RoleEdit::ThemeTiers.roles(&d).expect("tiers");
        let names: Vec<&str> = d.roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Gold", "Silver", "Bronze"]);
        assert_eq!(
            RoleEdit::ThemeTiers.roles(&d).expect("again").len(),
            3,
            "a tier already granted is not added twice"
        );
        let put = RoleEdit::Put { name: "Worm Rider".into(), grant: "rule:worm-holder".into(), color: 0x3498db };
        d.roles = put.roles(&d).expect("rule role");
        assert_eq!(
            (d.roles[3].key.as_str(), &d.roles[3].grant),
            ("worm-rider", &RoleGrant::Rule("worm-holder".into()))
        );
        let e = RoleEdit::Put { name: "X".into(), grant: "tier:naib".into(), color: 0 }.roles(&d).expect_err("theme");
        assert!(e.has("grant"), "{e}");
        assert_eq!(describe_grant(d.theme, &d, &RoleGrant::Tier("gold".into())), "the Gold tier (holders ranked 1–10)");
        assert!(RoleEdit::Remove { key: "nope".into() }.roles(&d).is_err());
        // The channel template gives each role its own category, and the manifest holds.
        d.channels = channel_template(&d);
        assert_eq!(d.channels.categories.len(), 4);
        assert_eq!(d.channels.categories[3].visible_to, ["worm-rider"]);
        d.name = Some("Sietch".into());
        d.manifest("123456789012345678".parse().expect("guild"), None).validate().expect("a valid manifest");
    }

    #[test]
    fn a_role_is_renamed_and_recoloured_in_place() {
        let mut d = draft();
        d.roles = RoleEdit::ThemeTiers.roles(&d).expect("tiers");
        let key = d.roles[0].key.clone();
        let change = RoleEdit::Change { key: key.clone(), name: " Spice Lords ".into(), color: Some(0x3498db) };
        let roles = change.roles(&d).expect("changed");
        assert_eq!(
            (roles[0].key.as_str(), roles[0].name.as_str(), roles[0].color),
            (key.as_str(), "Spice Lords", 0x3498db)
        );
        assert_eq!(roles[0].grant, d.roles[0].grant, "the grant stays");
        let keep_name = RoleEdit::Change { key: key.clone(), name: String::new(), color: Some(0) };
        assert_eq!(keep_name.roles(&d).expect("colour only")[0].name, d.roles[0].name);
        assert!(
            RoleEdit::Change { key: key.clone(), name: " ".into(), color: None }
                .roles(&d)
                .expect_err("nothing")
                .has("name")
        );
        assert!(
            RoleEdit::Change { key, name: String::new(), color: Some(1 << 24) }
                .roles(&d)
                .expect_err("rgb")
                .has("color")
        );
        assert!(
            RoleEdit::Change { key: "nope".into(), name: "X".into(), color: None }
                .roles(&d)
                .expect_err("key")
                .has("key")
        );
    }

    #[test]
    fn channels_are_added_renamed_and_removed_item_by_item() {
        let mut d = draft();
        d.roles = RoleEdit::ThemeTiers.roles(&d).expect("tiers");
        d.channels = ChannelEdit::Template.channels(&d).expect("template");
        assert_eq!(d.channels, channel_template(&d));
        let gold = d.roles[0].key.clone();

        let hall = ChannelEdit::AddCategory { name: "Holders' Hall".into(), visible_to: vec![gold.clone()] };
        d.channels = hall.channels(&d).expect("category");
        let added = d.channels.categories.last().expect("added").clone();
        assert_eq!((added.key.as_str(), added.visible_to.clone()), ("holders-hall", vec![gold.clone()]));
        let stranger = ChannelEdit::AddCategory { name: "X".into(), visible_to: vec!["nobody".into()] };
        assert!(stranger.channels(&d).expect_err("unknown role").has("visible_to"));
        assert!(
            ChannelEdit::AddCategory { name: " ".into(), visible_to: vec![] }
                .channels(&d)
                .expect_err("name")
                .has("name")
        );

        let stage =
            ChannelEdit::AddChannel { category: added.key.clone(), name: "Stage".into(), kind: ChannelKind::Voice };
        d.channels = stage.channels(&d).expect("channel");
        let channel = d.channels.categories.last().expect("hall").channels[0].clone();
        assert_eq!((channel.key.as_str(), channel.kind), ("stage", ChannelKind::Voice));
        let lost = ChannelEdit::AddChannel { category: "nowhere".into(), name: "x".into(), kind: ChannelKind::Text };
        assert!(lost.channels(&d).expect_err("category").has("category"));
        // A key is never taken twice, across categories and channels.
        let again =
            ChannelEdit::AddChannel { category: added.key.clone(), name: "Stage".into(), kind: ChannelKind::Text };
        assert_eq!(again.channels(&d).expect("again").categories.last().expect("hall").channels[1].key, "stage-2");

        d.channels =
            ChannelEdit::Rename { key: "stage".into(), name: "Main Stage".into() }.channels(&d).expect("rename");
        d.channels =
            ChannelEdit::Rename { key: added.key.clone(), name: "The Hall".into() }.channels(&d).expect("rename");
        let hall = d.channels.categories.last().expect("hall");
        assert_eq!((hall.name.as_str(), hall.channels[0].name.as_str()), ("The Hall", "Main Stage"));
        assert!(ChannelEdit::Rename { key: "nope".into(), name: "x".into() }.channels(&d).expect_err("key").has("key"));

        let before = d.channels.categories.len();
        d.channels = ChannelEdit::Remove { key: "stage".into() }.channels(&d).expect("channel removed");
        assert!(d.channels.categories.last().expect("hall").channels.is_empty());
        d.channels = ChannelEdit::Remove { key: added.key.clone() }.channels(&d).expect("category removed");
        assert_eq!(d.channels.categories.len(), before - 1);
        assert!(ChannelEdit::Remove { key: added.key }.channels(&d).expect_err("gone").has("key"));
        for key in d.channels.categories.clone().iter().map(|c| c.key.clone()) {
            d.channels = ChannelEdit::Remove { key }.channels(&d).expect("removed");
        }
        assert_eq!(d.channels.strategy, ChannelStrategy::None, "nothing left: no channels");
    }
}
