//! The wizard's text forms: how a step's answer is written in a Discord modal, one item per
//! line, and how a saved answer is written back so the modal opens prefilled for editing.
//!
//! Parsing only checks the shape of a line (the error names the line); whether the answer
//! makes sense (known assets, EIP-55 addresses, …) is the workflow validator's job, so the
//! CLI and Discord get the same checks.
//!
//! | step | one line | example |
//! |---|---|---|
//! | assets | `key kind chain_id address [token_id=N] [decimals=N]` | `spice erc20 1 0x5aAe…eAed decimals=18` |
//! | rules | `key = condition` | `whale = any(balance(spice) >= 1000, rank(spice) <= 10)` |
//! | roles | `key \| Name \| rule:KEY or tier:TIER [\| #rrggbb]` | `holder \| Spice Holder \| rule:holder \| #f1c40f` |
//! | channels | `key \| Category name \| role keys or everyone \| channel, voice:channel, …` | `holders \| Holders \| holder \| general, voice:lounge` |
//!
//! Conditions: `balance(ASSET) >= AMOUNT`, `nft(ASSET)`, `nft(ASSET, TOKEN_ID)`,
//! `rank(ASSET) <= N`, `all(…)`, `any(…)`, `at_least(N, …)`, or another rule's key.

use crate::{
    Asset, AssetKind, Category, Channel, ChannelKind, ChannelPlan, ChannelStrategy, CommunityManifest, Condition,
    GuildId, RoleGrant, RoleSpec, ValidationErrors,
};
use std::collections::BTreeMap;

/// The chains the wizard offers: (chain id, name).
pub const CHAINS: [(u64, &str); 6] = [
    (1, "Ethereum"),
    (8453, "Base"),
    (42161, "Arbitrum One"),
    (10, "OP Mainnet"),
    (137, "Polygon"),
    (31337, "Local (anvil)"),
];

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l))
}

fn one(field: &str, rule: impl Into<String>) -> ValidationErrors {
    let mut e = ValidationErrors::default();
    e.push(field, rule);
    e
}

/// Parses the assets form.
pub fn parse_assets(text: &str) -> Result<Vec<Asset>, ValidationErrors> {
    let mut out = Vec::new();
    let mut errors = ValidationErrors::default();
    for (n, line) in lines(text) {
        let at = format!("assets line {n}");
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 4 {
            errors.push(at, "write `key kind chain_id address`, e.g. `spice erc20 1 0x5aAe…eAed decimals=18`");
            continue;
        }
        let kind = match words[1] {
            "erc20" => AssetKind::Erc20,
            "erc721" => AssetKind::Erc721,
            "erc1155" => AssetKind::Erc1155,
            other => {
                errors.push(at, format!("kind '{other}' is not one of erc20, erc721, erc1155"));
                continue;
            }
        };
        let Ok(chain_id) = words[2].parse::<u64>() else {
            errors.push(at, format!("chain id '{}' is not a number", words[2]));
            continue;
        };
        let mut asset = Asset {
            key: words[0].to_string(),
            chain_id,
            kind,
            address: crate::normalize_address(words[3]),
            token_id: None,
            decimals: None,
        };
        for extra in &words[4..] {
            match extra.split_once('=') {
                Some(("token_id", v)) => asset.token_id = Some(v.to_string()),
                Some(("decimals", v)) => match v.parse() {
                    Ok(d) => asset.decimals = Some(d),
                    Err(_) => errors.push(&at, format!("decimals '{v}' is not a number from 0 to 255")),
                },
                _ => errors.push(&at, format!("'{extra}' is not token_id=N or decimals=N")),
            }
        }
        out.push(asset);
    }
    errors.into_result().map(|()| out)
}

/// Writes assets back as the form's lines.
pub fn render_assets(assets: &[Asset]) -> String {
    let kind = |k: AssetKind| match k {
        AssetKind::Erc20 => "erc20",
        AssetKind::Erc721 => "erc721",
        AssetKind::Erc1155 => "erc1155",
    };
    assets
        .iter()
        .map(|a| {
            let mut line = format!("{} {} {} {}", a.key, kind(a.kind), a.chain_id, a.address);
            if let Some(t) = &a.token_id {
                line.push_str(&format!(" token_id={t}"));
            }
            if let Some(d) = a.decimals {
                line.push_str(&format!(" decimals={d}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the rules form.
pub fn parse_rules(text: &str) -> Result<BTreeMap<String, Condition>, ValidationErrors> {
    let mut out = BTreeMap::new();
    let mut errors = ValidationErrors::default();
    for (n, line) in lines(text) {
        let at = format!("rules line {n}");
        let Some((key, expr)) = line.split_once('=').filter(|(_, e)| !e.starts_with('=')) else {
            errors.push(at, "write `key = condition`, e.g. `holder = balance(spice) >= 100`");
            continue;
        };
        match ConditionParser::new(expr).parse() {
            Ok(c) => {
                out.insert(key.trim().to_string(), c);
            }
            Err(why) => errors.push(at, why),
        }
    }
    errors.into_result().map(|()| out)
}

/// Writes rules back as the form's lines.
pub fn render_rules(rules: &BTreeMap<String, Condition>) -> String {
    rules.iter().map(|(k, c)| format!("{k} = {}", render_condition(c))).collect::<Vec<_>>().join("\n")
}

/// Writes one condition in the form's syntax.
pub fn render_condition(c: &Condition) -> String {
    let list = |items: &[Condition]| items.iter().map(render_condition).collect::<Vec<_>>().join(", ");
    match c {
        Condition::MinBalance { asset, amount } => format!("balance({asset}) >= {amount}"),
        Condition::OwnsNft { asset, token_id: None } => format!("nft({asset})"),
        Condition::OwnsNft { asset, token_id: Some(t) } => format!("nft({asset}, {t})"),
        Condition::RankAtMost { asset, rank } => format!("rank({asset}) <= {rank}"),
        Condition::ScoreAtLeast { asset, score } => format!("score({asset}) >= {score}"),
        Condition::Rule(key) => key.clone(),
        Condition::AllOf(items) => format!("all({})", list(items)),
        Condition::AnyOf(items) => format!("any({})", list(items)),
        Condition::AtLeast { n, of } => format!("at_least({n}, {})", list(of)),
    }
}

/// A recursive-descent parser of the condition syntax.
struct ConditionParser<'a> {
    rest: &'a str,
}

impl<'a> ConditionParser<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text.trim() }
    }

    fn parse(mut self) -> Result<Condition, String> {
        let c = self.condition()?;
        if !self.rest.trim().is_empty() {
            return Err(format!("unexpected '{}' after the condition", self.rest.trim()));
        }
        Ok(c)
    }

    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn word(&mut self) -> Result<&'a str, String> {
        self.skip_ws();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(match self.rest.chars().next() {
                Some(c) => format!("expected a name or number, found '{c}'"),
                None => "the condition ends too early".into(),
            });
        }
        let (w, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(w)
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        self.skip_ws();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                Ok(())
            }
            None => Err(format!("expected '{token}' at '{}'", self.rest)),
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        self.rest.strip_prefix(token).map(|rest| self.rest = rest).is_some()
    }

    fn list(&mut self) -> Result<Vec<Condition>, String> {
        let mut items = vec![self.condition()?];
        while self.eat(",") {
            items.push(self.condition()?);
        }
        self.expect(")")?;
        Ok(items)
    }

    fn condition(&mut self) -> Result<Condition, String> {
        let name = self.word()?;
        if !self.eat("(") {
            return Ok(Condition::Rule(name.to_string()));
        }
        match name {
            "balance" => {
                let asset = self.word()?.to_string();
                self.expect(")")?;
                self.expect(">=")?;
                Ok(Condition::MinBalance { asset, amount: self.word()?.to_string() })
            }
            "rank" => {
                let asset = self.word()?.to_string();
                self.expect(")")?;
                self.expect("<=")?;
                let n = self.word()?;
                let rank = n.parse().map_err(|_| format!("rank '{n}' is not a whole number"))?;
                Ok(Condition::RankAtMost { asset, rank })
            }
            "score" => {
                let asset = self.word()?.to_string();
                self.expect(")")?;
                self.expect(">=")?;
                Ok(Condition::ScoreAtLeast { asset, score: self.word()?.to_string() })
            }
            "nft" => {
                let asset = self.word()?.to_string();
                let token_id = if self.eat(",") { Some(self.word()?.to_string()) } else { None };
                self.expect(")")?;
                Ok(Condition::OwnsNft { asset, token_id })
            }
            "all" => Ok(Condition::AllOf(self.list()?)),
            "any" => Ok(Condition::AnyOf(self.list()?)),
            "at_least" => {
                let n = self.word()?;
                let n = n.parse().map_err(|_| format!("at_least needs a count first, found '{n}'"))?;
                self.expect(",")?;
                Ok(Condition::AtLeast { n, of: self.list()? })
            }
            other => Err(format!("'{other}(' is not one of balance, nft, rank, score, all, any, at_least")),
        }
    }
}

fn cells(line: &str) -> Vec<&str> {
    line.split('|').map(str::trim).collect()
}

/// Parses the roles form.
pub fn parse_roles(text: &str) -> Result<Vec<RoleSpec>, ValidationErrors> {
    let mut out = Vec::new();
    let mut errors = ValidationErrors::default();
    for (n, line) in lines(text) {
        let at = format!("roles line {n}");
        let c = cells(line);
        if !(3..=4).contains(&c.len()) {
            errors.push(
                at,
                "write `key | Name | rule:KEY, tier:TIER or badge:BADGE | #rrggbb`, e.g. `holder | Holder | rule:holder`",
            );
            continue;
        }
        let grant = match c[2].split_once(':') {
            Some(("rule", k)) => RoleGrant::Rule(k.trim().to_string()),
            Some(("tier", t)) => RoleGrant::Tier(t.trim().to_string()),
            Some(("badge", b)) => RoleGrant::Badge(b.trim().to_string()),
            _ => {
                errors.push(at, format!("'{}' is not rule:KEY, tier:TIER or badge:BADGE", c[2]));
                continue;
            }
        };
        let color = match c.get(3) {
            None => 0,
            Some(hex) => match u32::from_str_radix(hex.trim_start_matches('#'), 16) {
                Ok(v) => v,
                Err(_) => {
                    errors.push(at, format!("colour '{hex}' is not #rrggbb"));
                    continue;
                }
            },
        };
        out.push(RoleSpec {
            key: c[0].to_string(),
            name: c[1].to_string(),
            color,
            hoist: false,
            mentionable: false,
            grant,
            permissions: None,
        });
    }
    errors.into_result().map(|()| out)
}

/// Writes roles back as the form's lines.
pub fn render_roles(roles: &[RoleSpec]) -> String {
    roles
        .iter()
        .map(|r| {
            let grant = match &r.grant {
                RoleGrant::Rule(k) => format!("rule:{k}"),
                RoleGrant::Tier(t) => format!("tier:{t}"),
                RoleGrant::Badge(b) => format!("badge:{b}"),
            };
            let color = if r.color == 0 { String::new() } else { format!(" | #{:06x}", r.color) };
            format!("{} | {} | {grant}{color}", r.key, r.name)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Suggests a role per rule, for a roles form opened empty.
pub fn suggest_roles(rules: &BTreeMap<String, Condition>) -> String {
    rules
        .keys()
        .map(|k| {
            let mut name: Vec<char> = k.replace(['-', '_'], " ").chars().collect();
            if let Some(first) = name.first_mut() {
                *first = first.to_ascii_uppercase();
            }
            format!("{k} | {} | rule:{k}", name.into_iter().collect::<String>())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A channel name as a key: lowercase letters, digits and dashes.
fn slug(name: &str) -> String {
    let s: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

/// Parses the channels form; no lines means Arrakis manages no channels.
pub fn parse_channels(text: &str) -> Result<ChannelPlan, ValidationErrors> {
    let mut categories = Vec::new();
    let mut errors = ValidationErrors::default();
    for (n, line) in lines(text) {
        let at = format!("channels line {n}");
        let c = cells(line);
        if c.len() != 4 {
            errors.push(at, "write `key | Category name | role keys or everyone | channel, voice:channel`");
            continue;
        }
        let visible_to = match c[2] {
            "" | "everyone" => Vec::new(),
            keys => keys.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect(),
        };
        let channels = c[3]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(j, spec)| {
                let (kind, name) = match spec.split_once(':') {
                    Some(("voice", name)) => (ChannelKind::Voice, name.trim()),
                    Some(("announce", name)) => (ChannelKind::Announcement, name.trim()),
                    _ => (ChannelKind::Text, spec),
                };
                // A name of emoji alone has no slug: the channel's place makes the key.
                let slug = slug(name);
                let slug = if slug.is_empty() { format!("channel-{}", j + 1) } else { slug };
                Channel {
                    key: format!("{}-{slug}", c[0]),
                    name: name.to_string(),
                    kind,
                    topic: None,
                    visible_to: Vec::new(),
                }
            })
            .collect();
        categories.push(Category { key: c[0].to_string(), name: c[1].to_string(), visible_to, channels });
    }
    errors.into_result()?;
    let strategy = if categories.is_empty() { ChannelStrategy::None } else { ChannelStrategy::Custom };
    Ok(ChannelPlan { strategy, categories })
}

/// Writes a channel plan back as the form's lines.
pub fn render_channels(plan: &ChannelPlan) -> String {
    plan.categories
        .iter()
        .map(|cat| {
            let visible = if cat.visible_to.is_empty() { "everyone".to_string() } else { cat.visible_to.join(", ") };
            let channels = cat
                .channels
                .iter()
                .map(|ch| match ch.kind {
                    ChannelKind::Text => ch.name.clone(),
                    ChannelKind::Voice => format!("voice:{}", ch.name),
                    ChannelKind::Announcement => format!("announce:{}", ch.name),
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("{} | {} | {visible} | {channels}", cat.key, cat.name)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the chain select's values (chain ids as strings).
pub fn parse_chains(values: &[String]) -> Result<Vec<u64>, ValidationErrors> {
    values.iter().map(|v| v.parse::<u64>().map_err(|_| one("chains", format!("'{v}' is not a chain id")))).collect()
}

/// YAML as the JSON the manifest's schema describes: a tagged value (`!min_balance {…}`, as
/// serde writes an enum) becomes the one-key mapping people write (`min_balance: {…}`), and
/// a key that is not a string becomes its text.
fn json_of_yaml(value: serde_yaml_ng::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    use serde_yaml_ng::Value as Yaml;
    let text = |key: Yaml| match key {
        Yaml::String(s) => s,
        other => serde_yaml_ng::to_string(&other).map(|s| s.trim().to_string()).unwrap_or_default(),
    };
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).unwrap_or(Json::Null),
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(items.into_iter().map(json_of_yaml).collect()),
        Yaml::Mapping(map) => Json::Object(map.into_iter().map(|(k, v)| (text(k), json_of_yaml(v))).collect()),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string().trim_start_matches('!').to_string();
            Json::Object([(tag, json_of_yaml(tagged.value))].into_iter().collect())
        }
    }
}

/// The longest manifest the paste form takes: Discord's limit on one text input.
pub const PASTED_MAX: usize = 4_000;

/// "Paste a manifest": YAML or JSON (JSON is YAML), as the checked-in JSON Schema describes
/// it. `guild_id` may be left out (it is this server's). Errors name the manifest field
/// (`roles[0].grant: …`); a manifest for another server, or one that breaks the manifest's
/// rules, is refused here and again by the workflow's validator.
pub fn parse_manifest(text: &str, guild_id: GuildId) -> Result<CommunityManifest, ValidationErrors> {
    if text.trim().is_empty() {
        return Err(one("manifest", "paste a manifest, in YAML or JSON"));
    }
    if text.chars().count() > PASTED_MAX {
        return Err(one("manifest", format!("at most {PASTED_MAX} characters (Discord's limit on a form field)")));
    }
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| one("manifest", format!("not YAML or JSON: {e}")))?;
    let mut value = json_of_yaml(value);
    let Some(fields) = value.as_object_mut() else {
        return Err(one("manifest", "a mapping of fields: name, theme, mode, chains, assets, rules, roles, channels"));
    };
    let given = match fields.get("guild_id") {
        None => guild_id.to_string(),
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(other) => other.to_string(),
    };
    fields.insert("guild_id".into(), serde_json::Value::String(given));
    let manifest: CommunityManifest = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        one(if path == "." { "manifest" } else { &path }, e.into_inner().to_string())
    })?;
    super::PastedManifest { manifest: manifest.clone() }.check(guild_id)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_round_trip() {
        let text = "spice erc20 1 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed decimals=18\n\
                    worms erc1155 8453 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 token_id=7";
        let assets = parse_assets(text).expect("parses");
        assert_eq!(assets.len(), 2);
        assert_eq!(assets[1].token_id.as_deref(), Some("7"));
        assert_eq!(render_assets(&assets), text);
    }

    #[test]
    fn a_lowercase_address_is_taken_in_its_checksummed_form() {
        let assets = parse_assets("spice erc20 1 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").expect("parses");
        assert_eq!(assets[0].address, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    }

    #[test]
    fn a_bad_asset_line_is_named() {
        let e = parse_assets("spice erc99 1 0x00").expect_err("kind");
        assert_eq!(e.to_string(), "assets line 1: kind 'erc99' is not one of erc20, erc721, erc1155");
    }

    #[test]
    fn conditions_parse_and_round_trip() {
        let text = "holder = balance(spice) >= 100.5\n\
                    og = nft(genesis, 42)\n\
                    whale = any(all(holder, rank(spice) <= 10), at_least(2, og, nft(worms), holder))";
        let rules = parse_rules(text).expect("parses");
        assert_eq!(rules["og"], Condition::OwnsNft { asset: "genesis".into(), token_id: Some("42".into()) });
        let Condition::AnyOf(items) = &rules["whale"] else { panic!("any") };
        assert_eq!(items.len(), 2);
        assert_eq!(parse_rules(&render_rules(&rules)).expect("again"), rules);
    }

    #[test]
    fn a_broken_condition_says_where() {
        let e = parse_rules("a = balance(spice) > 1").expect_err("operator");
        assert!(e.to_string().starts_with("rules line 1: expected '>='"), "{e}");
        let e = parse_rules("a = fancy(spice)").expect_err("function");
        assert!(e.to_string().contains("'fancy(' is not one of"), "{e}");
        let e = parse_rules("a = all(x, y").expect_err("unclosed");
        assert!(e.to_string().contains("expected ')'"), "{e}");
    }

    #[test]
    fn roles_and_channels_round_trip() {
        let roles =
            parse_roles("holder | Spice Holder | rule:holder | #f1c40f\ngold | Gold | tier:gold").expect("roles");
        assert_eq!(roles[0].color, 0xf1c40f);
        assert_eq!(parse_roles(&render_roles(&roles)).expect("again"), roles);
        let plan = parse_channels("holders | Holders | holder, gold | general, voice:Lounge").expect("channels");
        assert_eq!(plan.strategy, ChannelStrategy::Custom);
        assert_eq!(plan.categories[0].channels[1].key, "holders-lounge");
        let emoji = parse_channels("holders | Holders | holder | general, voice:🔊").expect("channels");
        assert_eq!(emoji.categories[0].channels[1].key, "holders-channel-2", "never a key ending in a dash");
        assert_eq!(plan.categories[0].channels[1].kind, ChannelKind::Voice);
        assert_eq!(parse_channels(&render_channels(&plan)).expect("again"), plan);
        assert_eq!(parse_channels("").expect("empty").strategy, ChannelStrategy::None);
    }

    #[test]
    fn roles_are_suggested_from_rules() {
        let rules = parse_rules("spice-holder = balance(spice) >= 1").expect("rules");
        assert_eq!(suggest_roles(&rules), "spice-holder | Spice holder | rule:spice-holder");
    }

    fn demo_manifest(guild: GuildId) -> CommunityManifest {
        let draft = crate::workflows::wizard::WizardDraft {
            name: Some("Sietch Tabr".into()),
            chains: vec![1],
            assets: parse_assets("spice erc20 1 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed decimals=18")
                .expect("assets"),
            rules: parse_rules("holder = balance(spice) >= 1.5").expect("rules"),
            roles: parse_roles("holder | Spice Holder | rule:holder | #f1c40f").expect("roles"),
            channels: parse_channels("holders | Holders | holder | general").expect("channels"),
            ..crate::workflows::wizard::WizardDraft::new()
        };
        draft.manifest(guild, None)
    }

    #[test]
    fn a_pasted_manifest_reads_as_yaml_or_json_with_or_without_the_guild() {
        let guild: GuildId = "123456789012345678".parse().expect("id");
        let manifest = demo_manifest(guild);
        let json = serde_json::to_string_pretty(&manifest).expect("json");
        // As people write YAML (a rule is a mapping), and as serde writes it (with tags).
        let yaml = serde_yaml_ng::to_string(&serde_json::to_value(&manifest).expect("value")).expect("yaml");
        let tagged = serde_yaml_ng::to_string(&manifest).expect("tagged yaml");
        assert_eq!(parse_manifest(&json, guild).expect("json"), manifest);
        assert_eq!(parse_manifest(&yaml, guild).expect("yaml"), manifest);
        assert_eq!(parse_manifest(&tagged, guild).expect("tagged yaml"), manifest);
        let without: String = yaml.lines().filter(|l| !l.starts_with("guild_id")).collect::<Vec<_>>().join("\n");
        assert_ne!(without, yaml, "the YAML had a guild_id line");
        assert_eq!(parse_manifest(&without, guild).expect("no guild_id"), manifest);
        // The amount stays the exact decimal the operator wrote.
        assert!(yaml.contains("1.5"), "{yaml}");
    }

    #[test]
    fn a_pasted_manifest_is_refused_by_field() {
        let guild: GuildId = "123456789012345678".parse().expect("id");
        let value = serde_json::to_value(demo_manifest(guild)).expect("value");
        let yaml = serde_yaml_ng::to_string(&value).expect("yaml");
        let field = |text: &str| {
            let errors = parse_manifest(text, guild).expect_err(text);
            errors.0.first().map(|e| (e.field.clone(), e.rule.clone())).expect("an error")
        };
        assert_eq!(field("").0, "manifest");
        assert_eq!(field("just words").0, "manifest");
        assert_eq!(field("[1, 2]").0, "manifest");
        assert_eq!(field("name: [unclosed").0, "manifest");
        assert_eq!(field(&"x".repeat(PASTED_MAX + 1)).0, "manifest");
        let other = yaml.replace("123456789012345678", "223456789012345678");
        let (f, rule) = field(&other);
        assert_eq!(f, "guild_id");
        assert!(rule.contains("223456789012345678"), "{rule}");
        assert_eq!(field(&yaml.replace("mode: exclusive", "mode: primary")).0, "mode");
        assert_eq!(field(&yaml.replace("mode: exclusive", "mode: loud")).0, "mode");
        assert!(yaml.contains("color: 15844367"), "{yaml}");
        assert!(
            field(&yaml.replace("color: 15844367", "color: -1")).0.starts_with("roles[0]"),
            "a bad colour names its role"
        );
        assert!(field(&yaml.replace("rule: holder", "rule: nobody")).0.starts_with("roles"), "a grant of no rule");
    }
}
