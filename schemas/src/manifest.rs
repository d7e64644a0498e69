//! The community manifest: the desired state the wizard produces, synthesis applies and
//! reconciliation defends. Keys are stable slugs that tie an item to the Discord object it made;
//! names may change without losing that tie.

use crate::{GuildId, ValidationErrors, address::validate_checksum_address};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Discord's and our own limits, in one place so the validator and its messages agree.
#[derive(Clone, Copy, Debug)]
pub struct Limits;

impl Limits {
    /// Discord: a role, channel or guild name is 1 to 100 characters.
    pub const NAME_MAX: usize = 100;
    /// Discord: at most 250 roles per guild (counting what already exists).
    pub const ROLES_MAX: usize = 250;
    /// Discord: at most 500 channels per guild, categories included.
    pub const CHANNELS_MAX: usize = 500;
    /// Discord: at most 50 channels in one category.
    pub const CHANNELS_PER_CATEGORY_MAX: usize = 50;
    /// Discord: a channel topic is at most 1024 characters.
    pub const TOPIC_MAX: usize = 1024;
    /// Discord: colours are 24-bit RGB.
    pub const COLOR_MAX: u32 = 0xFF_FFFF;
    /// Discord: a message's content is at most 2,000 characters.
    pub const MESSAGE_MAX: usize = 2_000;
    /// Discord: a modal's text input holds at most 4,000 characters.
    pub const TEXT_INPUT_MAX: usize = 4_000;
    /// Discord: an `X-Audit-Log-Reason` is at most 512 characters.
    pub const AUDIT_REASON_MAX: usize = 512;
    /// Ours: a key is a lowercase slug of at most 64 characters.
    pub const KEY_MAX: usize = 64;
    /// Ours: nested conditions deeper than this are a mistake, not a policy.
    pub const CONDITION_DEPTH_MAX: usize = 8;
}

/// A community's whole desired state, one immutable version of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityManifest {
    /// The guild this manifest governs.
    pub guild_id: GuildId,
    /// The community's display name.
    pub name: String,
    /// The naming and tier scheme of its roles.
    #[serde(default)]
    pub theme: Theme,
    /// How Arrakis coexists with an incumbent bot.
    #[serde(default)]
    pub mode: Mode,
    /// EVM chain ids the assets live on.
    #[serde(default)]
    pub chains: Vec<u64>,
    /// Tokens and collections the rules refer to.
    #[serde(default)]
    pub assets: Vec<Asset>,
    /// Named eligibility conditions, by key.
    #[serde(default)]
    pub rules: BTreeMap<String, Condition>,
    /// Roles Arrakis creates and grants.
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// Categories and channels Arrakis creates, and who may see them.
    #[serde(default)]
    pub channels: ChannelPlan,
    /// A channel where Arrakis reports to the operator (drift found by reconciliation, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_channel_id: Option<crate::Snowflake>,
}

/// The role naming and tier scheme; tiers are data of the theme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Gold, Silver, Bronze.
    #[default]
    Basic,
    /// Naib … Hajra.
    Sietch,
}

impl Theme {
    /// The JSON name: `basic` or `sietch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Basic => "basic",
            Theme::Sietch => "sietch",
        }
    }

    /// From its JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        [Theme::Basic, Theme::Sietch].into_iter().find(|t| t.as_str() == s)
    }

    /// The badge keys a role may be granted by, in theme order.
    pub fn badge_keys(self) -> impl Iterator<Item = &'static str> {
        self.spec().badges.iter().map(|b| b.key)
    }

    /// The tier keys a role may be granted by, best first.
    pub fn tiers(self) -> &'static [&'static str] {
        match self {
            Theme::Basic => &["gold", "silver", "bronze"],
            Theme::Sietch => {
                &["naib", "fedaykin", "usul", "sayyadina", "mushtamal", "sihaya", "qanat", "ichwan", "hajra"]
            }
        }
    }
}

/// How Arrakis runs beside an incumbent bot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Observe and compare; never change Discord.
    #[default]
    Shadow,
    /// Grant namespaced roles beside the incumbent's, without permissions.
    Parallel,
    /// Arrakis leads; the incumbent still runs.
    Primary,
    /// Arrakis alone.
    Exclusive,
}

impl Mode {
    /// Every mode, in the order a community moves through them.
    pub const ALL: [Mode; 4] = [Mode::Shadow, Mode::Parallel, Mode::Primary, Mode::Exclusive];

    /// Parses the stored name (`shadow`, …).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The value of the `ArrakisMode` search attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Parallel => "parallel",
            Mode::Primary => "primary",
            Mode::Exclusive => "exclusive",
        }
    }
}

/// A token or collection on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Stable slug the rules refer to.
    pub key: String,
    /// The chain it lives on; must be listed in `chains`.
    pub chain_id: u64,
    /// The token standard.
    pub kind: AssetKind,
    /// The contract, EIP-55 checksummed.
    pub address: String,
    /// For ERC-1155: which token of the contract (a decimal string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// For ERC-20: how many decimals a display amount has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

/// The token standards Arrakis reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// Fungible token.
    Erc20,
    /// NFT collection.
    Erc721,
    /// Multi-token contract; needs a `token_id`.
    Erc1155,
}

/// An eligibility condition tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Holds at least `amount` (a decimal string in display units, never a float).
    MinBalance {
        /// Asset key.
        asset: String,
        /// Decimal string, e.g. `"1000.5"`.
        amount: String,
    },
    /// Owns an NFT of the collection, or the given token id.
    OwnsNft {
        /// Asset key.
        asset: String,
        /// A specific token id (decimal string), or any token when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_id: Option<String>,
    },
    /// Ranked at most `rank` among the asset's holders (from the Score Service).
    RankAtMost {
        /// Asset key.
        asset: String,
        /// 1 is the top holder.
        rank: u32,
    },
    /// A conviction score of at least `score` for the asset (from the Score Service; a decimal
    /// string, compared exactly). Unlike a rank, it has no chain fallback: unreadable is unknown.
    ScoreAtLeast {
        /// Asset key.
        asset: String,
        /// Decimal string, e.g. `"80"`.
        score: String,
    },
    /// Another rule, by key.
    Rule(String),
    /// Every condition holds.
    AllOf(Vec<Condition>),
    /// At least one condition holds.
    AnyOf(Vec<Condition>),
    /// At least `n` of the conditions hold.
    AtLeast {
        /// How many must hold.
        n: u32,
        /// The candidates.
        of: Vec<Condition>,
    },
}

impl Condition {
    /// Calls `f` on every leaf of the tree (balances, NFTs, ranks, rule references), in order;
    /// rule references are not followed.
    pub fn for_each_leaf(&self, f: &mut impl FnMut(&Condition)) {
        match self {
            Condition::AllOf(of) | Condition::AnyOf(of) | Condition::AtLeast { of, .. } => {
                of.iter().for_each(|c| c.for_each_leaf(f))
            }
            leaf => f(leaf),
        }
    }
}

/// A role Arrakis creates, and what grants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Stable slug tying the role to the Discord role it made.
    pub key: String,
    /// Display name, 1–100 characters.
    pub name: String,
    /// RGB colour, 0–0xFFFFFF.
    #[serde(default)]
    pub color: u32,
    /// Shown separately in the member list.
    #[serde(default)]
    pub hoist: bool,
    /// Anyone may @mention it.
    #[serde(default)]
    pub mentionable: bool,
    /// What grants the role.
    pub grant: RoleGrant,
    /// Discord permission bits as a decimal string; none unless the operator sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
}

/// The source of a role: a rule or a tier of the theme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RoleGrant {
    /// Granted when the rule with this key holds.
    Rule(String),
    /// Granted to members of this tier of the theme.
    Tier(String),
    /// Granted to members who earned this badge of the theme.
    Badge(String),
}

/// Which channels Arrakis manages, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPlan {
    /// How Arrakis treats channels.
    #[serde(default)]
    pub strategy: ChannelStrategy,
    /// Categories and the channels inside them.
    #[serde(default)]
    pub categories: Vec<Category>,
}

/// How Arrakis treats a guild's channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStrategy {
    /// Arrakis manages no channels.
    #[default]
    None,
    /// Arrakis only adds channels, never edits existing ones.
    AdditiveOnly,
    /// Arrakis mirrors the incumbent's gated channels.
    ParallelMirror,
    /// The operator's own structure.
    Custom,
}

/// A category and its channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Stable slug.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Role keys that may see the category; empty means everyone.
    #[serde(default)]
    pub visible_to: Vec<String>,
    /// Its channels.
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// A channel inside a category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// Stable slug.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Text, voice or announcement.
    #[serde(default)]
    pub kind: ChannelKind,
    /// Topic line, at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Role keys that may see it; empty means it inherits the category's.
    #[serde(default)]
    pub visible_to: Vec<String>,
}

/// The channel types Arrakis creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A text channel.
    #[default]
    Text,
    /// A voice channel.
    Voice,
    /// An announcement channel.
    Announcement,
}

impl CommunityManifest {
    /// Checks every rule of Discord and of Arrakis, collecting all failures by field path.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        self.validate_with_existing(0, 0)
    }

    /// As [`validate`](Self::validate), counting roles and channels that already exist in the
    /// guild and are not Arrakis's towards Discord's per-guild limits.
    pub fn validate_with_existing(
        &self,
        existing_roles: usize,
        existing_channels: usize,
    ) -> Result<(), ValidationErrors> {
        self.validate_under(Rules::default(), existing_roles, existing_channels)
    }

    /// As [`validate_with_existing`](Self::validate_with_existing), under `rules`: a workflow
    /// that validates keeps the rules its recorded runs had, behind a patch.
    pub fn validate_under(
        &self,
        rules: Rules,
        existing_roles: usize,
        existing_channels: usize,
    ) -> Result<(), ValidationErrors> {
        let mut v = Validator { errors: ValidationErrors::default(), manifest: self, rules };
        v.name("name", &self.name);
        v.chains();
        v.assets();
        v.rules();
        v.roles(existing_roles);
        v.channels(existing_channels);
        v.errors.into_result()
    }

    /// The number of Discord channels the manifest asks for, categories included.
    pub fn channel_count(&self) -> usize {
        self.channels.categories.iter().map(|c| 1 + c.channels.len()).sum()
    }
}

/// A manifest key made of `words` (a symbol, a rule's parts, a role's name): lowercase letters
/// and digits joined by '-', `fallback` when nothing is left, and a `-2`, `-3`… suffix when
/// `taken`. Always a valid key.
pub fn key_from<'a>(words: impl IntoIterator<Item = &'a str>, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut key = String::new();
    for c in words.into_iter().collect::<Vec<_>>().join("-").chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    let mut key: String = key.trim_end_matches('-').chars().take(Limits::KEY_MAX - 4).collect();
    key.truncate(key.trim_end_matches('-').len());
    if key.is_empty() {
        key = fallback.to_string();
    }
    if !taken(&key) {
        return key;
    }
    (2..).map(|n| format!("{key}-{n}")).find(|k| !taken(k)).unwrap_or(key)
}

/// The rules that changed over time, so a workflow can validate as its recorded runs did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// In parallel mode every role is named `arrakis-…` (since migration came).
    pub parallel_prefix: bool,
}

impl Default for Rules {
    /// Today's rules.
    fn default() -> Self {
        Self { parallel_prefix: true }
    }
}

struct Validator<'a> {
    errors: ValidationErrors,
    manifest: &'a CommunityManifest,
    rules: Rules,
}

impl Validator<'_> {
    fn name(&mut self, field: &str, name: &str) {
        crate::check_text(&mut self.errors, field, name, true, Limits::NAME_MAX);
    }

    fn key(&mut self, field: String, key: &str, seen: &mut BTreeSet<String>) {
        let valid = !key.is_empty()
            && key.len() <= Limits::KEY_MAX
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && key.as_bytes()[0].is_ascii_alphanumeric();
        if !valid {
            self.errors.push(
                field,
                format!("a key is 1–{} of a–z, 0–9, '-' and '_', starting with a letter or digit", Limits::KEY_MAX),
            );
        } else if !seen.insert(key.to_string()) {
            self.errors.push(field, format!("duplicate key '{key}'"));
        }
    }

    fn chains(&mut self) {
        let mut seen = BTreeSet::new();
        for (i, chain) in self.manifest.chains.iter().enumerate() {
            if *chain == 0 {
                self.errors.push(format!("chains[{i}]"), "a chain id is a positive integer");
            } else if !seen.insert(*chain) {
                self.errors.push(format!("chains[{i}]"), format!("duplicate chain id {chain}"));
            }
        }
    }

    fn assets(&mut self) {
        let mut seen = BTreeSet::new();
        for (i, asset) in self.manifest.assets.iter().enumerate() {
            let at = |f: &str| format!("assets[{i}].{f}");
            self.key(at("key"), &asset.key, &mut seen);
            if !self.manifest.chains.contains(&asset.chain_id) {
                self.errors.push(at("chain_id"), format!("chain {} is not listed in chains", asset.chain_id));
            }
            if let Err(rule) = validate_checksum_address(&asset.address) {
                self.errors.push(at("address"), rule);
            }
            match (asset.kind, &asset.token_id) {
                (AssetKind::Erc1155, None) => self.errors.push(at("token_id"), "required for erc1155"),
                (AssetKind::Erc1155, Some(id)) if !is_uint(id) => {
                    self.errors.push(at("token_id"), "a non-negative integer as a decimal string")
                }
                (AssetKind::Erc20 | AssetKind::Erc721, Some(_)) => self
                    .errors
                    .push(at("token_id"), "only erc1155 assets have a token_id (use owns_nft.token_id for erc721)"),
                _ => {}
            }
            if let Some(decimals) = asset.decimals {
                if asset.kind != AssetKind::Erc20 {
                    self.errors.push(at("decimals"), "only erc20 assets have decimals");
                } else if decimals > 77 {
                    self.errors.push(at("decimals"), "at most 77");
                }
            }
        }
    }

    fn asset(&self, key: &str) -> Option<&Asset> {
        self.manifest.assets.iter().find(|a| a.key == key)
    }

    fn rules(&mut self) {
        let mut seen = BTreeSet::new();
        for (key, condition) in &self.manifest.rules {
            self.key(format!("rules.{key}"), key, &mut seen);
            self.condition(format!("rules.{key}"), condition, 0);
        }
        self.rule_cycles();
    }

    fn condition(&mut self, field: String, condition: &Condition, depth: usize) {
        if depth > Limits::CONDITION_DEPTH_MAX {
            self.errors.push(field, format!("conditions nest at most {} deep", Limits::CONDITION_DEPTH_MAX));
            return;
        }
        match condition {
            Condition::MinBalance { asset, amount } => {
                let field = format!("{field}.min_balance");
                match self.asset(asset).map(|a| (a.kind, a.decimals)) {
                    None => self.errors.push(format!("{field}.asset"), format!("no asset with key '{asset}'")),
                    Some((AssetKind::Erc721, _)) => {
                        self.errors.push(format!("{field}.asset"), "min_balance needs an erc20 or erc1155 asset")
                    }
                    Some((kind, decimals)) => {
                        let allowed = if kind == AssetKind::Erc20 { decimals.unwrap_or(18) } else { 0 };
                        if let Err(rule) = check_amount(amount, allowed) {
                            self.errors.push(format!("{field}.amount"), rule);
                        }
                    }
                }
            }
            Condition::OwnsNft { asset, token_id } => {
                let field = format!("{field}.owns_nft");
                match self.asset(asset).map(|a| a.kind) {
                    None => self.errors.push(format!("{field}.asset"), format!("no asset with key '{asset}'")),
                    Some(AssetKind::Erc20) => {
                        self.errors.push(format!("{field}.asset"), "owns_nft needs an erc721 or erc1155 asset")
                    }
                    Some(_) => {}
                }
                if token_id.as_deref().is_some_and(|id| !is_uint(id)) {
                    self.errors.push(format!("{field}.token_id"), "a non-negative integer as a decimal string");
                }
            }
            Condition::ScoreAtLeast { asset, score } => {
                let field = format!("{field}.score_at_least");
                if self.asset(asset).is_none() {
                    self.errors.push(format!("{field}.asset"), format!("no asset with key '{asset}'"));
                }
                if let Err(rule) = check_amount(score, 18) {
                    self.errors.push(format!("{field}.score"), rule);
                }
            }
            Condition::RankAtMost { asset, rank } => {
                let field = format!("{field}.rank_at_most");
                if self.asset(asset).is_none() {
                    self.errors.push(format!("{field}.asset"), format!("no asset with key '{asset}'"));
                }
                if *rank == 0 {
                    self.errors.push(format!("{field}.rank"), "at least 1 (1 is the top holder)");
                }
            }
            Condition::Rule(key) => {
                if !self.manifest.rules.contains_key(key) {
                    self.errors.push(format!("{field}.rule"), format!("no rule with key '{key}'"));
                }
            }
            Condition::AllOf(of) | Condition::AnyOf(of) => {
                let tag = if matches!(condition, Condition::AllOf(_)) { "all_of" } else { "any_of" };
                if of.is_empty() {
                    self.errors.push(format!("{field}.{tag}"), "at least one condition");
                }
                for (i, c) in of.iter().enumerate() {
                    self.condition(format!("{field}.{tag}[{i}]"), c, depth + 1);
                }
            }
            Condition::AtLeast { n, of } => {
                if *n == 0 || *n as usize > of.len() {
                    self.errors.push(
                        format!("{field}.at_least.n"),
                        format!("between 1 and {} (the number of conditions)", of.len()),
                    );
                }
                for (i, c) in of.iter().enumerate() {
                    self.condition(format!("{field}.at_least.of[{i}]"), c, depth + 1);
                }
            }
        }
    }

    /// Rules may refer to rules; a cycle would make eligibility undefined.
    fn rule_cycles(&mut self) {
        fn refs(c: &Condition, out: &mut Vec<String>) {
            match c {
                Condition::Rule(k) => out.push(k.clone()),
                Condition::AllOf(of) | Condition::AnyOf(of) | Condition::AtLeast { of, .. } => {
                    of.iter().for_each(|c| refs(c, out))
                }
                _ => {}
            }
        }
        let graph: BTreeMap<&str, Vec<String>> = self
            .manifest
            .rules
            .iter()
            .map(|(k, c)| {
                let mut out = Vec::new();
                refs(c, &mut out);
                (k.as_str(), out)
            })
            .collect();
        // Depth-first search with colours; reports each rule that closes a cycle once.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        fn visit<'g>(
            k: &'g str,
            graph: &'g BTreeMap<&str, Vec<String>>,
            state: &mut BTreeMap<&'g str, u8>,
            cyclic: &mut BTreeSet<&'g str>,
        ) {
            state.insert(k, 1);
            for next in graph.get(k).into_iter().flatten() {
                let Some((next, _)) = graph.get_key_value(next.as_str()) else { continue };
                match state.get(next) {
                    Some(1) => {
                        cyclic.insert(k);
                    }
                    Some(_) => {}
                    None => visit(next, graph, state, cyclic),
                }
            }
            state.insert(k, 2);
        }
        let mut cyclic = BTreeSet::new();
        for k in graph.keys() {
            if !state.contains_key(k) {
                visit(k, &graph, &mut state, &mut cyclic);
            }
        }
        for k in cyclic {
            self.errors.push(format!("rules.{k}"), "rules refer to each other in a cycle");
        }
    }

    fn roles(&mut self, existing: usize) {
        let roles = &self.manifest.roles;
        if roles.len() + existing > Limits::ROLES_MAX {
            self.errors.push(
                "roles",
                format!(
                    "at most {} roles per guild ({} requested, {existing} already exist)",
                    Limits::ROLES_MAX,
                    roles.len()
                ),
            );
        }
        let mut seen = BTreeSet::new();
        let tiers = self.manifest.theme.tiers();
        for (i, role) in roles.iter().enumerate() {
            let at = |f: &str| format!("roles[{i}].{f}");
            self.key(at("key"), &role.key, &mut seen);
            self.name(&at("name"), &role.name);
            if self.rules.parallel_prefix && self.manifest.mode == Mode::Parallel && !role.name.starts_with("arrakis-")
            {
                self.errors.push(
                    at("name"),
                    "in parallel mode every role Arrakis makes is named arrakis-… (rename the part after the prefix)",
                );
            }
            if role.color > Limits::COLOR_MAX {
                self.errors.push(at("color"), "between 0 and 16777215 (0xFFFFFF)");
            }
            match &role.grant {
                RoleGrant::Rule(key) if !self.manifest.rules.contains_key(key) => {
                    self.errors.push(at("grant.rule"), format!("no rule with key '{key}'"))
                }
                RoleGrant::Tier(tier) if !tiers.contains(&tier.as_str()) => self.errors.push(
                    at("grant.tier"),
                    format!("one of the {:?} theme's tiers: {}", self.manifest.theme, tiers.join(", ")),
                ),
                RoleGrant::Badge(badge) if !self.manifest.theme.badge_keys().any(|b| b == badge) => {
                    let badges: Vec<&str> = self.manifest.theme.badge_keys().collect();
                    self.errors.push(
                        at("grant.badge"),
                        format!("one of the {:?} theme's badges: {}", self.manifest.theme, badges.join(", ")),
                    )
                }
                _ => {}
            }
            match role.permissions.as_deref() {
                None | Some("0") => {}
                Some(_) if self.manifest.mode == Mode::Parallel => {
                    self.errors.push(at("permissions"), "roles carry no permissions in parallel mode")
                }
                Some(bits) if !is_uint(bits) || bits.parse::<u64>().is_err() => {
                    self.errors.push(at("permissions"), "Discord permission bits as a decimal string")
                }
                Some(_) => {}
            }
        }
    }

    fn channels(&mut self, existing: usize) {
        let total = self.manifest.channel_count();
        if total + existing > Limits::CHANNELS_MAX {
            self.errors.push(
                "channels.categories",
                format!(
                    "at most {} channels per guild, categories included ({total} requested, {existing} already exist)",
                    Limits::CHANNELS_MAX
                ),
            );
        }
        let role_keys: BTreeSet<&str> = self.manifest.roles.iter().map(|r| r.key.as_str()).collect();
        let plan = &self.manifest.channels;
        if plan.strategy == ChannelStrategy::None && !plan.categories.is_empty() {
            self.errors.push(
                "channels.strategy",
                "'none' manages no channels: choose another strategy or remove the categories",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, category) in plan.categories.iter().enumerate() {
            let at = format!("channels.categories[{i}]");
            self.key(format!("{at}.key"), &category.key, &mut seen);
            self.name(&format!("{at}.name"), &category.name);
            self.visible_to(&format!("{at}.visible_to"), &category.visible_to, &role_keys);
            if category.channels.len() > Limits::CHANNELS_PER_CATEGORY_MAX {
                self.errors.push(
                    format!("{at}.channels"),
                    format!("at most {} channels per category", Limits::CHANNELS_PER_CATEGORY_MAX),
                );
            }
            for (j, channel) in category.channels.iter().enumerate() {
                let at = format!("{at}.channels[{j}]");
                self.key(format!("{at}.key"), &channel.key, &mut seen);
                self.name(&format!("{at}.name"), &channel.name);
                if channel.kind != ChannelKind::Voice
                    && !channel.name.trim().is_empty()
                    && crate::plan::text_channel_name(&channel.name).is_empty()
                {
                    self.errors.push(
                        format!("{at}.name"),
                        "a text channel's name needs a letter, digit or emoji (Discord lowercases it, \
                         turns spaces into dashes and drops punctuation)",
                    );
                }
                if channel.topic.as_deref().is_some_and(|t| t.chars().count() > Limits::TOPIC_MAX) {
                    self.errors.push(format!("{at}.topic"), format!("at most {} characters", Limits::TOPIC_MAX));
                }
                self.visible_to(&format!("{at}.visible_to"), &channel.visible_to, &role_keys);
            }
        }
    }

    fn visible_to(&mut self, field: &str, keys: &[String], role_keys: &BTreeSet<&str>) {
        for (i, key) in keys.iter().enumerate() {
            if !role_keys.contains(key.as_str()) {
                self.errors.push(format!("{field}[{i}]"), format!("no role with key '{key}'"));
            }
        }
    }
}

fn is_uint(s: &str) -> bool {
    !s.is_empty() && s.len() <= 78 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A non-negative decimal string with at most `decimals` digits after the point.
fn check_amount(amount: &str, decimals: u8) -> Result<(), String> {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (amount.contains('.') && frac.is_empty()) {
        return Err("a non-negative decimal string such as \"1000\" or \"0.5\"".into());
    }
    if frac.len() > usize::from(decimals) {
        return Err(format!("at most {decimals} digits after the point for this asset"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_from_words_is_always_a_valid_key() {
        let none = |_: &str| false;
        assert_eq!(key_from(["Spice", "≥ 1,000"], "rule", none), "spice-1-000");
        assert_eq!(key_from(["🌶️", "!!"], "rule", none), "rule");
        assert_eq!(key_from(["spice"], "rule", |k| k == "spice" || k == "spice-2"), "spice-3");
        let long = key_from(["a".repeat(200).as_str()], "rule", |k| !k.ends_with("-2"));
        assert!(long.len() <= Limits::KEY_MAX, "{long}");
        let manifest: CommunityManifest = serde_json::from_value(example()).expect("example");
        for key in ["spice-1-000", "rule", "spice-3", long.as_str()] {
            let mut v = Validator { errors: ValidationErrors::default(), manifest: &manifest, rules: Rules::default() };
            v.key("key".into(), key, &mut BTreeSet::new());
            assert!(v.errors.into_result().is_ok(), "{key}");
        }
    }

    fn example() -> serde_json::Value {
        json!({
            "guild_id": "1100000000000000001",
            "name": "Sietch Tabr",
            "theme": "sietch",
            "mode": "parallel",
            "chains": [1],
            "assets": [
                {"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 18},
                {"key": "worm", "chain_id": 1, "kind": "erc721", "address": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"}
            ],
            "rules": {
                "holder": {"min_balance": {"asset": "spice", "amount": "1000.5"}},
                "rider": {"any_of": [{"owns_nft": {"asset": "worm"}}, {"rule": "holder"}]},
                "elite": {"at_least": {"n": 2, "of": [{"rule": "rider"}, {"rank_at_most": {"asset": "spice", "rank": 7}}, {"rule": "holder"}]}}
            },
            "roles": [
                {"key": "naib", "name": "arrakis-naib", "color": 16766720, "hoist": true, "grant": {"tier": "naib"}},
                {"key": "rider", "name": "arrakis-sandrider", "grant": {"rule": "rider"}}
            ],
            "channels": {"strategy": "additive_only", "categories": [
                {"key": "council", "name": "Council", "visible_to": ["naib"], "channels": [
                    {"key": "council-chat", "name": "council-chat", "topic": "Naibs only"},
                    {"key": "council-voice", "name": "Council", "kind": "voice"}
                ]}
            ]}
        })
    }

    fn parse(v: serde_json::Value) -> CommunityManifest {
        serde_json::from_value(v).expect("example parses")
    }

    fn errors_of(v: serde_json::Value) -> ValidationErrors {
        parse(v).validate().expect_err("must be rejected")
    }

    #[test]
    fn the_example_is_valid() {
        assert_eq!(parse(example()).validate(), Ok(()));
    }

    #[test]
    fn a_name_of_only_invisible_characters_is_refused_naming_its_field() {
        for blank in ["\u{200b}\u{200b}", "\u{200d}\u{feff}", " \u{2060} "] {
            let mut v = example();
            v["name"] = json!(blank);
            v["roles"][1]["name"] = json!(blank);
            v["channels"]["categories"][0]["channels"][0]["name"] = json!(blank);
            let errors = errors_of(v);
            for field in ["name", "roles[1].name", "channels.categories[0].channels[0].name"] {
                assert!(errors.has(field), "{blank:?} at {field}: {errors:?}");
            }
        }
    }

    #[test]
    fn a_long_role_name_names_the_field_and_the_rule() {
        let mut v = example();
        v["roles"][1]["name"] = json!(format!("arrakis-{}", "x".repeat(93)));
        assert_eq!(errors_of(v).to_string(), "roles[1].name: at most 100 characters (got 101)");
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("/roles/0/color", json!(0x100_0000), "roles[0].color"),
            ("/roles/1/grant", json!({"rule": "nope"}), "roles[1].grant.rule"),
            ("/roles/0/grant", json!({"tier": "gold"}), "roles[0].grant.tier"),
            ("/roles/1/key", json!("naib"), "roles[1].key"),
            (
                "/roles/1",
                json!({"key": "rider", "name": "Rider", "grant": {"rule": "rider"}, "permissions": "8"}),
                "roles[1].permissions",
            ),
            ("/assets/0/address", json!("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), "assets[0].address"),
            ("/assets/0/chain_id", json!(137), "assets[0].chain_id"),
            ("/rules/holder/min_balance/amount", json!("1e3"), "rules.holder.min_balance.amount"),
            ("/rules/holder/min_balance/asset", json!("worm"), "rules.holder.min_balance.asset"),
            ("/rules/elite/at_least/n", json!(4), "rules.elite.at_least.n"),
            ("/channels/categories/0/visible_to/0", json!("ghost"), "channels.categories[0].visible_to[0]"),
            ("/channels/categories/0/channels/1/key", json!("council"), "channels.categories[0].channels[1].key"),
            ("/name", json!(""), "name"),
        ];
        for (pointer, value, field) in cases {
            let mut v = example();
            *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} exists")) = value;
            let errors = errors_of(v);
            assert!(errors.has(field), "{pointer}: expected an error at {field}, got {errors}");
        }
    }

    #[test]
    fn rule_cycles_are_rejected() {
        let mut v = example();
        v["rules"]["holder"] = json!({"all_of": [{"rule": "elite"}]});
        let errors = errors_of(v);
        assert!(errors.0.iter().any(|e| e.rule.contains("cycle")), "{errors}");
    }

    #[test]
    fn discord_limits_count_what_already_exists() {
        let manifest = parse(example());
        assert!(manifest.validate_with_existing(248, 0).is_ok());
        assert!(manifest.validate_with_existing(249, 0).expect_err("251 roles").has("roles"));
        assert!(manifest.validate_with_existing(0, 497).is_ok());
        assert!(manifest.validate_with_existing(0, 498).expect_err("3 + 498").has("channels.categories"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = example();
        v["roles"][0]["colour"] = json!(1);
        let err = crate::validation::parse_json::<CommunityManifest>(&v).expect_err("typo");
        assert!(err.0[0].field.starts_with("roles[0]"), "{err}");
    }
}
