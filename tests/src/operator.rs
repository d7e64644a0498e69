//! A scripted community operator: plays slash commands, button presses, selects and modal
//! submits into the Discord stand-in and reads what the bot answered. The end-to-end tests and
//! the demo drive the wizard through it, exactly as Discord would deliver a person's clicks.

use anyhow::{Context, bail};
use arrakis_sim::{Action, InjectInteraction, InteractionReport, SimClient, custom_ids};
use serde_json::Value;

/// Manage Server: an admin.
pub const MANAGE_GUILD: u64 = 1 << 5;

/// One operator in one guild and channel.
#[derive(Clone, Debug)]
pub struct Operator {
    /// The stand-in's control API.
    pub control: SimClient,
    /// The guild.
    pub guild: u64,
    /// Who acts.
    pub user: u64,
    /// The channel they act in.
    pub channel: Option<u64>,
    /// Their permission bits.
    pub permissions: u64,
}

/// What the bot answered to one interaction.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The interaction's id in the stand-in, to read its report again later.
    pub id: u64,
    /// The stand-in's report.
    pub report: InteractionReport,
}

impl Answer {
    /// The first callback.
    pub fn callback(&self) -> &Value {
        self.report.callbacks.first().unwrap_or(&Value::Null)
    }

    /// The callback type: 4 message, 7 update message, 9 modal.
    pub fn kind(&self) -> u64 {
        self.callback()["type"].as_u64().unwrap_or(0)
    }

    /// The message: the callback's or, for a deferred answer, what it became: the original
    /// response as edited (a slash command's type 5, a button's or form's type 6), or the
    /// follow-up a button's deferral was answered with.
    pub fn message(&self) -> &Value {
        match (self.kind(), &self.report.original, self.report.followups.first()) {
            (6, _, Some(followup)) => followup,
            (5 | 6, Some(original), _) => original,
            _ => &self.callback()["data"],
        }
    }

    /// The message text (empty for a modal).
    pub fn content(&self) -> String {
        self.message()["content"].as_str().unwrap_or_default().to_string()
    }

    /// True when only the operator sees it.
    pub fn ephemeral(&self) -> bool {
        let flags = if self.kind() == 6 { &self.message()["flags"] } else { &self.callback()["data"]["flags"] };
        flags.as_u64().unwrap_or(0) & (1 << 6) != 0
    }

    /// The custom ids of the components offered, in order (a modal's own id first).
    pub fn custom_ids(&self) -> Vec<String> {
        custom_ids(self.message())
    }

    /// True when a component with `custom_id` is offered.
    pub fn offers(&self, custom_id: &str) -> bool {
        self.custom_ids().iter().any(|c| c == custom_id)
    }

    /// Milliseconds from the interaction to the first response.
    pub fn ack_ms(&self) -> Option<u64> {
        self.report.acknowledged_after_ms
    }

    /// Milliseconds from the interaction to its complete answer: the first response, or the
    /// edit or follow-up that completed a deferred one.
    pub fn answered_ms(&self) -> Option<u64> {
        match self.kind() {
            5 | 6 => self.report.answered_after_ms,
            _ => self.ack_ms(),
        }
    }
}

impl Operator {
    /// An admin operator.
    pub fn admin(control: SimClient, guild: u64, user: u64, channel: Option<u64>) -> Self {
        Self { control, guild, user, channel, permissions: MANAGE_GUILD }
    }

    /// A member without any permission (for the member commands).
    pub fn member(control: SimClient, guild: u64, user: u64) -> Self {
        Self { control, guild, user, channel: None, permissions: 0 }
    }

    /// A top-level slash command (`/verify`, `/check-eligibility`) with string options.
    pub async fn slash(&self, name: &str, options: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.act(Action::SlashCommand {
            name: name.into(),
            subcommand: None,
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        })
        .await
    }

    async fn act(&self, action: Action) -> anyhow::Result<Answer> {
        self.act_on(action, None).await
    }

    async fn act_on(&self, action: Action, shown: Option<&Answer>) -> anyhow::Result<Answer> {
        let interaction = InjectInteraction {
            message_content: shown.map(Answer::content),
            guild_id: Some(self.guild),
            channel_id: self.channel,
            user_id: Some(self.user),
            member_permissions: Some(self.permissions),
            action,
        };
        let (id, _) = self.control.inject(&interaction).await?;
        let mut report = self.control.interaction(id, 5_000).await?;
        if report.callbacks.is_empty() {
            bail!("the bot did not answer interaction {id} within 5 s");
        }
        // A deferred answer (type 5 or 6) arrives as an edit of the original response or as
        // a follow-up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while matches!(report.callbacks[0]["type"].as_u64(), Some(5 | 6)) && report.answered_after_ms.is_none() {
            if std::time::Instant::now() > deadline {
                bail!("the deferred answer to interaction {id} was not completed within 30 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            report = self.control.interaction(id, 0).await?;
        }
        Ok(Answer { id, report })
    }

    /// `/arrakis <sub>` with string options.
    pub async fn command(&self, sub: &str, options: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.act(Action::SlashCommand {
            name: "arrakis".into(),
            subcommand: Some(sub.into()),
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        })
        .await
    }

    /// Presses a button.
    pub async fn press(&self, custom_id: &str) -> anyhow::Result<Answer> {
        self.act(Action::Button { custom_id: custom_id.into() }).await
    }

    /// Presses a button of a message the bot showed (Discord sends that message along).
    pub async fn press_on(&self, shown: &Answer, custom_id: &str) -> anyhow::Result<Answer> {
        self.act_on(Action::Button { custom_id: custom_id.into() }, Some(shown)).await
    }

    /// Picks values in a select.
    pub async fn select(&self, custom_id: &str, values: &[&str]) -> anyhow::Result<Answer> {
        self.act(Action::Select { custom_id: custom_id.into(), values: values.iter().map(|v| v.to_string()).collect() })
            .await
    }

    /// Submits a modal.
    pub async fn submit(&self, custom_id: &str, fields: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.act(Action::ModalSubmit {
            custom_id: custom_id.into(),
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        })
        .await
    }

    /// Presses `button`, which opens a form, and submits the form with `fields`.
    pub async fn form(&self, button: &str, fields: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let modal = self.press(button).await?;
        if modal.kind() != 9 {
            bail!("expected {button} to open a form (a modal), got: {:?}", modal.callback());
        }
        let submit_id = modal.custom_ids().into_iter().next().context("the modal has a custom id")?;
        self.submit(&submit_id, fields).await
    }

    /// Opens a step's form and submits it: the button, the modal, the submit.
    pub async fn fill(&self, step: &str, fields: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.form(&format!("wiz:open:{step}"), fields).await
    }
}

/// The challenge text between the code fences of the `/verify` answer.
pub fn challenge_text(content: &str) -> String {
    let start = content.find("```\n").map(|i| i + 4).expect("a code block");
    let end = content[start..].find("\n```").map(|i| start + i).expect("its end");
    content[start..end].to_string()
}

/// The names in a REVIEW plan's "Will create" list.
pub fn planned(review: &str) -> Vec<String> {
    let Some((_, list)) = review.split_once("Will create") else { return Vec::new() };
    list.lines()
        .skip(1)
        .take_while(|l| l.starts_with("- "))
        .filter_map(|l| l.split("**").nth(1).map(str::to_string))
        .collect()
}

/// A community's answers in the wizard's line syntax ("Edit as text"), step by step, for the
/// tests that type them (any EIP-55 address will do for setting up; the demo uses the pickers).
pub mod demo {
    /// INIT.
    pub const NAME: &str = "Sietch Tabr";
    /// ASSET_CONFIG.
    pub const ASSETS: &str = "spice erc20 1 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed decimals=18";
    /// ELIGIBILITY_RULES.
    pub const RULES: &str = "holder = balance(spice) >= 100\nwhale = any(balance(spice) >= 10000, rank(spice) <= 10)";
    /// ROLE_MAPPING.
    pub const ROLES: &str = "holder | Spice Holder | rule:holder | #f1c40f\nwhale | Spice Whale | rule:whale | #e67e22";
    /// CHANNEL_STRUCTURE.
    pub const CHANNELS: &str = "holders | Holders | holder | general, voice:Lounge\nwhales | Whale Pod | whale | alpha";
}
