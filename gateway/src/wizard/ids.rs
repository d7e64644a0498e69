//! The wizard's custom-id registry: every button, select and form of the wizard is a
//! [`WizardAction`], written to and parsed from its `wiz:…` custom id here and nowhere else.

use crate::components::button_with_id;
use arrakis_schemas::workflows::{synthesis::RemovalChoice, wizard::WizardStep};
use twilight_model::channel::message::component::{ButtonStyle, Component};

/// Custom-id prefix of every wizard component.
pub const PREFIX: &str = "wiz";

/// A wizard enum whose variants travel as fixed words in custom ids: one table gives `ALL`
/// (each variant with its word, in order), `parse` and `as_str`, so the two directions cannot
/// disagree.
macro_rules! custom_id_words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant with its word, in order.
            pub(crate) const ALL: [($ty, &'static str); [$($word),+].len()] = [$((Self::$variant, $word)),+];

            /// The variant a word names.
            pub(crate) fn parse(word: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|(_, w)| *w == word).map(|(v, _)| v)
            }

            /// The word in the custom id.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }
    };
}

/// What a wizard component or modal asks for, parsed from its custom id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WizardAction {
    /// Open the form of a step (a modal).
    OpenForm(WizardStep),
    /// A submitted form.
    SubmitForm(WizardStep),
    /// The chain select.
    Chains,
    /// Back to the previous step.
    Back,
    /// Confirm REVIEW: deploy, with the decision about what the version drops (if anything).
    Deploy(Option<RemovalChoice>),
    /// Show the current state again.
    Refresh,
    /// `/arrakis status`'s *Sync now*: trigger the guild's shadow sync.
    SyncShadow,
    /// ASSET_CONFIG by address.
    Asset(AssetAction),
    /// Open a picker form (a modal).
    OpenPick(PickForm),
    /// A submitted picker form.
    SubmitPick(PickForm),
    /// The remove select of a step's list (rules, roles).
    Remove(WizardStep),
    /// Done with a step edited in place: submit its list.
    Next(WizardStep),
    /// ROLE_MAPPING: a role per tier of the theme.
    ThemeTiers,
    /// CHANNEL_STRUCTURE: the theme's channel template, in place.
    ChannelTemplate,
    /// CHANNEL_STRUCTURE: no channels.
    NoChannels,
    /// INIT: open the "Paste a manifest" form (a modal).
    Paste,
    /// The submitted "Paste a manifest" form.
    Pasted,
}

/// The picker forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickForm {
    /// "Holds at least [amount] [token]".
    Holds,
    /// "Owns [any / token id] of [collection]".
    Owns,
    /// "Is in the top [N] holders of [asset]".
    Top,
    /// All / any / at least N of rules.
    Combine,
    /// A "holds at least" rule's amount or token changed.
    ChangeRule,
    /// A role: name, granted by, colour.
    Role,
    /// A role renamed or recoloured.
    ChangeRole,
    /// A category: name, seen by which roles.
    Category,
    /// A channel: category, name, kind.
    Channel,
    /// A category or channel renamed.
    Rename,
}

custom_id_words!(PickForm {
    Holds => "holds",
    Owns => "owns",
    Top => "top",
    Combine => "combine",
    ChangeRule => "change-rule",
    Role => "role",
    ChangeRole => "change-role",
    Category => "category",
    Channel => "channel",
    Rename => "rename",
});

impl PickForm {
    /// What the form edits, for its refusals: "rule", "role" or "channels".
    pub fn edits(self) -> &'static str {
        match self {
            Self::Holds | Self::Owns | Self::Top | Self::Combine | Self::ChangeRule => "rule",
            Self::Role | Self::ChangeRole => "role",
            Self::Category | Self::Channel | Self::Rename => "channels",
        }
    }
}

/// What an ASSET_CONFIG button, select or form asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetAction {
    /// Open the lookup form (chain, address).
    Add,
    /// The submitted lookup form.
    LookUp,
    /// The finding is right: add it.
    Confirm,
    /// The finding is wrong: the lookup form again, prefilled.
    Change,
    /// The remove select.
    Remove,
    /// Done with assets: on to the rules.
    Next,
}

custom_id_words!(AssetAction {
    Add => "add",
    LookUp => "lookup",
    Confirm => "confirm",
    Change => "change",
    Remove => "remove",
    Next => "next",
});

impl AssetAction {
    /// Whether its answer is a modal (so it is never deferred).
    pub fn opens_modal(self) -> bool {
        matches!(self, Self::Add | Self::Change)
    }
}

impl WizardAction {
    /// Parses `wiz:…` custom ids; `None` for anything else.
    pub fn parse(custom_id: &str) -> Option<Self> {
        let rest = custom_id.strip_prefix(PREFIX)?.strip_prefix(':')?;
        let (verb, arg) = rest.split_once(':').unwrap_or((rest, ""));
        Some(match verb {
            "open" => Self::OpenForm(WizardStep::parse(arg)?),
            "submit" => Self::SubmitForm(WizardStep::parse(arg)?),
            "chains" => Self::Chains,
            "back" => Self::Back,
            "deploy" => Self::Deploy(match arg {
                "" => None,
                "remove" => Some(RemovalChoice::Remove),
                "detach" => Some(RemovalChoice::Detach),
                _ => return None,
            }),
            "refresh" => Self::Refresh,
            "shadow-sync" => Self::SyncShadow,
            "asset" => Self::Asset(AssetAction::parse(arg)?),
            "pick" => Self::OpenPick(PickForm::parse(arg)?),
            "picked" => Self::SubmitPick(PickForm::parse(arg)?),
            "remove" => Self::Remove(WizardStep::parse(arg)?),
            "next" => Self::Next(WizardStep::parse(arg)?),
            "tiers" => Self::ThemeTiers,
            "template" => Self::ChannelTemplate,
            "nochannels" => Self::NoChannels,
            "paste" => Self::Paste,
            "pasted" => Self::Pasted,
            _ => return None,
        })
    }

    /// The custom id.
    pub fn custom_id(self) -> String {
        match self {
            Self::OpenForm(step) => format!("{PREFIX}:open:{}", step.as_str()),
            Self::SubmitForm(step) => format!("{PREFIX}:submit:{}", step.as_str()),
            Self::Chains => format!("{PREFIX}:chains"),
            Self::Back => format!("{PREFIX}:back"),
            Self::Deploy(None) => format!("{PREFIX}:deploy"),
            Self::Deploy(Some(RemovalChoice::Remove)) => format!("{PREFIX}:deploy:remove"),
            Self::Deploy(Some(_)) => format!("{PREFIX}:deploy:detach"),
            Self::Refresh => arrakis_schemas::workflows::wizard::REFRESH_BUTTON.to_string(),
            Self::SyncShadow => format!("{PREFIX}:shadow-sync"),
            Self::Asset(action) => {
                let verb = action.as_str();
                format!("{PREFIX}:asset:{verb}")
            }
            Self::OpenPick(form) => format!("{PREFIX}:pick:{}", form.as_str()),
            Self::SubmitPick(form) => format!("{PREFIX}:picked:{}", form.as_str()),
            Self::Remove(step) => format!("{PREFIX}:remove:{}", step.as_str()),
            Self::Next(step) => format!("{PREFIX}:next:{}", step.as_str()),
            Self::ThemeTiers => format!("{PREFIX}:tiers"),
            Self::ChannelTemplate => format!("{PREFIX}:template"),
            Self::NoChannels => format!("{PREFIX}:nochannels"),
            Self::Paste => format!("{PREFIX}:paste"),
            Self::Pasted => format!("{PREFIX}:pasted"),
        }
    }
}

/// A button for a wizard action.
pub(crate) fn button(action: WizardAction, label: &str, style: ButtonStyle) -> Component {
    button_with_id(action.custom_id(), label, style)
}
