//! The wizard driven by its updates, as the gateway sends them (the same typed contract), for
//! tests that need a deployed community without playing every click.

use arrakis_schemas::{
    CommunityManifest, GuildId, Lenient, Snowflake, UserId,
    temporal::{Wizard, WizardStatusQuery, WizardSubmit},
    workflows::wizard::{self, StepAnswer, WizardInput, WizardOutcome, WizardStatus},
};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions,
};

/// A Temporal client for the local stack.
pub async fn temporal_client() -> Client {
    let address = crate::stack_env("TEMPORAL_ADDRESS");
    let url = if address.contains("://") { address } else { format!("http://{address}") };
    let url = url::Url::parse(&url).expect("TEMPORAL_ADDRESS is host:port or a URL");
    arrakis_worker::connect_client(&url, &crate::stack_env("TEMPORAL_NAMESPACE"), "arrakis-tests")
        .await
        .expect("Temporal is up")
}

/// One operator's setup session of one guild.
pub struct WizardDriver {
    client: Client,
    task_queue: String,
    input: WizardInput,
}

impl WizardDriver {
    /// A driver for `guild`'s wizard on `task_queue`; progress is posted in `channel`.
    pub async fn new(task_queue: &str, guild: &str, channel: Option<u64>) -> Self {
        let guild_id: GuildId = guild.parse().expect("guild id");
        let operator: UserId = "900000000000000001".parse().expect("operator id");
        let channel_id = channel.map(|c| Snowflake::new(c).expect("channel id"));
        let input = WizardInput { guild_id, operator_id: operator, channel_id, idle_timeout_secs: Some(3600) };
        Self { client: temporal_client().await, task_queue: task_queue.to_string(), input }
    }

    fn id(&self) -> String {
        wizard::workflow_id(self.input.guild_id)
    }

    /// Starts a session (a new run when the last one ended).
    pub async fn start(&self) {
        let options = WorkflowStartOptions::new(self.task_queue.clone(), self.id()).build();
        self.client.start_workflow(Wizard, self.input.clone(), options).await.expect("the wizard starts");
    }

    /// Submits one answer; the validator's refusal comes back as the error's text.
    pub async fn submit(&self, answer: &StepAnswer) -> Result<WizardStatus, String> {
        let handle = self.client.get_workflow_handle::<Wizard>(self.id());
        let options = WorkflowExecuteUpdateOptions::builder()
            .update_id(format!("test-{}", uuid::Uuid::new_v4().simple()))
            .build();
        handle.execute_update(WizardSubmit, Lenient::new(answer), options).await.map_err(|e| format!("{e:?}"))
    }

    /// The session's state.
    pub async fn status(&self) -> WizardStatus {
        let handle = self.client.get_workflow_handle::<Wizard>(self.id());
        handle.query(WizardStatusQuery, (), WorkflowQueryOptions::default()).await.expect("status")
    }

    /// Answers INIT through CHANNEL_STRUCTURE with `manifest`'s content; REVIEW's plan is then
    /// in the returned status.
    pub async fn answer(&self, manifest: &CommunityManifest) -> WizardStatus {
        let answers = [
            StepAnswer::Init {
                name: manifest.name.clone(),
                theme: manifest.theme,
                mode: manifest.mode,
                operator_channel_id: manifest.operator_channel_id,
                beside: None,
            },
            StepAnswer::ChainSelect { chains: manifest.chains.clone() },
            StepAnswer::AssetConfig { assets: manifest.assets.clone() },
            StepAnswer::EligibilityRules { rules: manifest.rules.clone() },
            StepAnswer::RoleMapping { roles: manifest.roles.clone() },
            StepAnswer::ChannelStructure { channels: manifest.channels.clone() },
        ];
        let mut status = WizardStatus::default();
        for answer in &answers {
            status = self.submit(answer).await.unwrap_or_else(|e| panic!("{:?} refused: {e}", answer.step()));
        }
        status
    }

    /// Waits for the session to end (DEPLOY done, or expired).
    pub async fn outcome(&self) -> WizardOutcome {
        let handle = self.client.get_workflow_handle::<Wizard>(self.id());
        handle.get_result(WorkflowGetResultOptions::default()).await.expect("the wizard ends")
    }
}
