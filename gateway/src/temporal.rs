//! The gateway's Temporal calls, by contract (`arrakis_schemas::temporal`): open the wizard
//! with update-with-start, submit steps, query, start reconciliations, pass member events on.
//! The connection is made in the background and re-made when lost, so the gateway answers
//! interactions ("Arrakis is busy") even while Temporal is down.

use crate::metrics::Metrics;
use arrakis_schemas::{
    GuildId, Lenient, Snowflake, UserId,
    temporal::{
        EligibilityCheck, MemberEventSignal, MemberSync, Reconcile, WalletChallenge, WalletLink, WalletSubmitSignature,
        Wizard, WizardAsset, WizardChannel, WizardGoBack, WizardOpenSession, WizardPasteManifest, WizardRole,
        WizardRule, WizardStatusQuery, WizardSubmit,
    },
    workflows::{
        eligibility_check::{self, EligibilityCheckInput, EligibilityReport},
        incumbent::Incumbent,
        members::{self, MemberEvent, RolesSeen},
        reconcile::{self, ReconcileInput, ReconcileMode},
        wallet_link::{self, ChallengeRequest, SignatureSubmission, WalletLinkInput, WalletLinkStatus},
        wizard::{
            self, GoBack, OpenRequest, StepAnswer, WizardInput, WizardStatus, WizardStep,
            assets::AssetEdit,
            picks::{ChannelEdit, RoleEdit, RuleEdit},
        },
    },
};
use futures::StreamExt;
use std::{sync::Arc, time::Duration, time::Instant};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    WorkflowIdConflictPolicy, WorkflowListOptions, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
    WorkflowUpdateWithStartOptions,
    errors::{
        WorkflowGetResultError, WorkflowInteractionError, WorkflowQueryError, WorkflowUpdateError,
        WorkflowUpdateWithStartError,
    },
};
use temporalio_common::{HasWorkflowDefinition, QueryDefinition, UpdateDefinition};
use tokio::sync::RwLock;
use url::Url;

/// Why a call did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The workflow refused the input (an update validator's message): show it.
    #[error("{0}")]
    Rejected(String),
    /// No such workflow.
    #[error("not found")]
    NotFound,
    /// Temporal is unreachable, failing, or too slow: "Arrakis is busy".
    #[error("Temporal unavailable: {0}")]
    Unavailable(String),
}

/// One recent workflow of a guild, for `/arrakis status`.
#[derive(Clone, Debug)]
pub struct RecentRun {
    /// Its ID.
    pub workflow_id: String,
    /// Its type.
    pub workflow_type: String,
    /// Running, Completed, Failed, …
    pub status: String,
}

/// Temporal, reached lazily.
#[derive(Clone)]
pub struct Workflows {
    client: Arc<RwLock<Option<Client>>>,
    task_queue: String,
    idle_timeout_secs: u64,
    metrics: Metrics,
}

fn update_error(e: WorkflowUpdateError) -> CallError {
    match e {
        WorkflowUpdateError::Failed(failure) => CallError::Rejected(failure.message),
        WorkflowUpdateError::NotFound(_) => CallError::NotFound,
        other => CallError::Unavailable(other.to_string()),
    }
}

fn update_with_start_error(e: WorkflowUpdateWithStartError) -> CallError {
    match e {
        WorkflowUpdateWithStartError::Update(e) => update_error(e),
        other => CallError::Unavailable(other.to_string()),
    }
}

/// Counts a Temporal call in flight for as long as it lives (a call dropped half-way, at an
/// interaction's deadline, is counted out too).
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        metrics.temporal_in_flight(1);
        Self(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.temporal_in_flight(-1);
    }
}

impl Workflows {
    /// Connects in the background (retrying every second) to `address`.
    pub fn connect(
        address: Url,
        namespace: String,
        task_queue: String,
        idle_timeout_secs: u64,
        metrics: Metrics,
    ) -> Self {
        let client = Arc::new(RwLock::new(None));
        let slot = client.clone();
        tokio::spawn(async move {
            loop {
                let options = ConnectionOptions::new(address.clone())
                    .identity(format!("arrakis-gateway@{}", std::process::id()))
                    .connect_timeout(Duration::from_secs(3))
                    .build();
                match Connection::connect(options).await {
                    Ok(connection) => match Client::new(connection, ClientOptions::new(namespace.clone()).build()) {
                        Ok(c) => {
                            tracing::info!(%address, "connected to Temporal");
                            *slot.write().await = Some(c);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "Temporal client"),
                    },
                    Err(e) => tracing::warn!(%address, error = %e, "cannot reach Temporal yet; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { client, task_queue, idle_timeout_secs, metrics }
    }

    /// The task queue workflows are started on.
    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// True once connected.
    pub async fn connected(&self) -> bool {
        self.client.read().await.is_some()
    }

    pub(crate) async fn client(&self) -> Result<Client, CallError> {
        self.client.read().await.clone().ok_or_else(|| CallError::Unavailable("not connected yet".into()))
    }

    pub(crate) async fn timed<T>(
        &self,
        call: &'static str,
        f: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let started = Instant::now();
        let in_flight = InFlight::new(&self.metrics);
        let result = f.await;
        drop(in_flight);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CallError::Rejected(_)) => "rejected",
            Err(CallError::NotFound) => "not_found",
            Err(CallError::Unavailable(_)) => "unavailable",
        };
        self.metrics.temporal_call(call, outcome, started.elapsed());
        result
    }

    /// Sends `update` with `input` to the workflow `workflow_id` and waits for its answer,
    /// timed as `call`. The update ID is derived from the interaction, so a retried delivery
    /// of one interaction is applied once; the workflow's refusal comes back as `Rejected`.
    pub(crate) async fn update<U>(
        &self,
        call: &'static str,
        workflow_id: String,
        update: U,
        input: U::Input,
        update_id: String,
    ) -> Result<U::Output, CallError>
    where
        U: UpdateDefinition,
        U::Workflow: HasWorkflowDefinition<Run = U::Workflow>,
        U::Input: Send,
        U::Output: 'static,
    {
        self.timed(call, async {
            let handle = self.client().await?.get_workflow_handle::<U::Workflow>(workflow_id);
            let options = WorkflowExecuteUpdateOptions::builder().update_id(update_id).build();
            handle.execute_update(update, input, options).await.map_err(update_error)
        })
        .await
    }

    /// Asks the workflow `workflow_id` `query`, timed as `call`; `None` when it never ran.
    pub(crate) async fn query<Q>(
        &self,
        call: &'static str,
        workflow_id: String,
        query: Q,
    ) -> Result<Option<Q::Output>, CallError>
    where
        Q: QueryDefinition<Input = ()>,
        Q::Workflow: HasWorkflowDefinition<Run = Q::Workflow>,
    {
        self.timed(call, async {
            let handle = self.client().await?.get_workflow_handle::<Q::Workflow>(workflow_id);
            match handle.query(query, (), WorkflowQueryOptions::default()).await {
                Ok(output) => Ok(Some(output)),
                Err(WorkflowQueryError::NotFound(_)) => Ok(None),
                Err(e) => Err(CallError::Unavailable(e.to_string())),
            }
        })
        .await
    }

    /// `/arrakis setup`: opens the guild's wizard, starting it if none is open
    /// (update-with-start, conflict policy: use the existing run).
    pub async fn open_wizard(
        &self,
        guild_id: GuildId,
        operator_id: UserId,
        channel_id: Option<Snowflake>,
        incumbent: Option<Incumbent>,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        self.timed("open_wizard", async {
            let input =
                WizardInput { guild_id, operator_id, channel_id, idle_timeout_secs: Some(self.idle_timeout_secs) };
            let options = WorkflowUpdateWithStartOptions::new(
                self.task_queue.clone(),
                wizard::workflow_id(guild_id),
                WorkflowIdConflictPolicy::UseExisting,
            )
            .update_id(format!("open-{request_id}"))
            .build();
            let request = Lenient::new(&OpenRequest { operator_id, channel_id, incumbent });
            self.client()
                .await?
                .execute_update_with_start_workflow(Wizard, input, WizardOpenSession, request, options)
                .await
                .map_err(update_with_start_error)
        })
        .await
    }

    /// The guild's wizard state; `NotFound` when it never ran.
    pub async fn wizard_status(&self, guild_id: GuildId) -> Result<WizardStatus, CallError> {
        self.query("wizard_status", wizard::workflow_id(guild_id), WizardStatusQuery).await?.ok_or(CallError::NotFound)
    }

    /// Submits a step's answer; the update ID is the interaction's, so a retried delivery of
    /// the same interaction is applied once.
    pub async fn submit(
        &self,
        guild_id: GuildId,
        answer: &StepAnswer,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        let update_id = format!("submit-{request_id}");
        self.update("submit_step", wizard::workflow_id(guild_id), WizardSubmit, Lenient::new(answer), update_id).await
    }

    /// One edit of the draft's assets (a lookup reads the chain: it may take a second).
    pub async fn asset(
        &self,
        guild_id: GuildId,
        edit: &AssetEdit,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        let update_id = format!("asset-{request_id}");
        self.update("asset", wizard::workflow_id(guild_id), WizardAsset, Lenient::new(edit), update_id).await
    }

    /// Adds or removes a rule of the draft.
    pub async fn rule(&self, guild_id: GuildId, edit: &RuleEdit, request_id: &str) -> Result<WizardStatus, CallError> {
        let update_id = format!("rule-{request_id}");
        self.update("rule", wizard::workflow_id(guild_id), WizardRule, Lenient::new(edit), update_id).await
    }

    /// Adds or removes roles of the draft.
    pub async fn role(&self, guild_id: GuildId, edit: &RoleEdit, request_id: &str) -> Result<WizardStatus, CallError> {
        let update_id = format!("role-{request_id}");
        self.update("role", wizard::workflow_id(guild_id), WizardRole, Lenient::new(edit), update_id).await
    }

    /// Edits the draft's categories and channels in place.
    pub async fn channel(
        &self,
        guild_id: GuildId,
        edit: &ChannelEdit,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        let update_id = format!("channel-{request_id}");
        self.update("channel", wizard::workflow_id(guild_id), WizardChannel, Lenient::new(edit), update_id).await
    }

    /// Loads a pasted manifest into the draft; the session moves to REVIEW.
    pub async fn paste_manifest(
        &self,
        guild_id: GuildId,
        pasted: &wizard::PastedManifest,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        let update_id = format!("paste-{request_id}");
        self.update(
            "paste_manifest",
            wizard::workflow_id(guild_id),
            WizardPasteManifest,
            Lenient::new(pasted),
            update_id,
        )
        .await
    }

    /// Goes back to `to`.
    pub async fn go_back(
        &self,
        guild_id: GuildId,
        to: WizardStep,
        request_id: &str,
    ) -> Result<WizardStatus, CallError> {
        let update_id = format!("back-{request_id}");
        self.update("go_back", wizard::workflow_id(guild_id), WizardGoBack, Lenient::new(&GoBack { to }), update_id)
            .await
    }

    /// `/arrakis reconcile`: starts a reconciliation; returns its workflow ID.
    pub async fn start_reconcile(
        &self,
        guild_id: GuildId,
        mode: ReconcileMode,
        run: &str,
    ) -> Result<String, CallError> {
        self.timed("start_reconcile", async {
            let id = reconcile::workflow_id(guild_id, run);
            let input = Lenient::new(&ReconcileInput { guild_id, mode, remove: Vec::new(), detach: Vec::new() });
            let options = WorkflowStartOptions::new(self.task_queue.clone(), id.clone()).build();
            self.client()
                .await?
                .start_workflow(Reconcile, input, options)
                .await
                .map_err(|e| CallError::Unavailable(e.to_string()))?;
            Ok(id)
        })
        .await
    }

    /// The guild's most recent runs, newest first.
    pub async fn recent_runs(&self, guild_id: GuildId, limit: usize) -> Result<Vec<RecentRun>, CallError> {
        self.timed("list_workflows", async {
            let client = self.client().await?;
            let query = format!("{} = '{guild_id}'", arrakis_schemas::workflows::search_attributes::GUILD_ID);
            let mut stream = client.list_workflows(query, WorkflowListOptions::builder().limit(limit).build());
            let mut runs = Vec::new();
            while let Some(item) = stream.next().await {
                let run = item.map_err(|e| CallError::Unavailable(e.to_string()))?;
                runs.push(RecentRun {
                    workflow_id: run.id().to_string(),
                    workflow_type: run.workflow_type().to_string(),
                    status: format!("{:?}", run.status()),
                });
            }
            Ok(runs)
        })
        .await
    }

    /// `/verify`: a fresh challenge for `address`, starting the member's linking session if
    /// none is open (update-with-start, conflict policy: use the existing run).
    pub async fn request_challenge(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        address: &str,
        request_id: &str,
    ) -> Result<WalletLinkStatus, CallError> {
        self.timed("wallet_challenge", async {
            let options = WorkflowUpdateWithStartOptions::new(
                self.task_queue.clone(),
                wallet_link::workflow_id(guild_id, user_id),
                WorkflowIdConflictPolicy::UseExisting,
            )
            .update_id(format!("challenge-{request_id}"))
            .build();
            let input = Lenient::new(&WalletLinkInput { guild_id, user_id });
            let request = Lenient::new(&ChallengeRequest { address: address.trim().to_string() });
            self.client()
                .await?
                .execute_update_with_start_workflow(WalletLink, input, WalletChallenge, request, options)
                .await
                .map_err(update_with_start_error)
        })
        .await
    }

    /// The signature form: checked against the open challenge by the workflow.
    pub async fn submit_signature(
        &self,
        guild_id: GuildId,
        user_id: UserId,
        signature: &str,
        roles_seen: Option<RolesSeen>,
        request_id: &str,
    ) -> Result<WalletLinkStatus, CallError> {
        let submission = Lenient::new(&SignatureSubmission { signature: signature.to_string(), roles_seen });
        let id = wallet_link::workflow_id(guild_id, user_id);
        self.update("wallet_submit_signature", id, WalletSubmitSignature, submission, format!("signature-{request_id}"))
            .await
    }

    /// `/check-eligibility`: runs (or joins) the member's check and waits for its report.
    pub async fn check_eligibility(&self, guild_id: GuildId, user_id: UserId) -> Result<EligibilityReport, CallError> {
        self.timed("eligibility_check", async {
            let options =
                WorkflowStartOptions::new(self.task_queue.clone(), eligibility_check::workflow_id(guild_id, user_id))
                    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                    .build();
            let input = Lenient::new(&EligibilityCheckInput { guild_id, user_id });
            let handle = self
                .client()
                .await?
                .start_workflow(EligibilityCheck, input, options)
                .await
                .map_err(|e| CallError::Unavailable(e.to_string()))?;
            handle.get_result(WorkflowGetResultOptions::default()).await.map_err(|e| match e {
                WorkflowGetResultError::Failed(f) => CallError::Rejected(format!("the check failed: {f}")),
                other => CallError::Unavailable(other.to_string()),
            })
        })
        .await
    }

    /// Passes a member event to the guild's member-sync workflow; `false` when the guild has
    /// none running (nothing to tell).
    pub async fn member_event(&self, event: &MemberEvent) -> Result<bool, CallError> {
        self.timed("member_event", async {
            let handle = self.client().await?.get_workflow_handle::<MemberSync>(members::workflow_id(event.guild_id));
            match handle.signal(MemberEventSignal, Lenient::new(event), WorkflowSignalOptions::default()).await {
                Ok(()) => Ok(true),
                Err(WorkflowInteractionError::NotFound(_)) => Ok(false),
                Err(e) => Err(CallError::Unavailable(e.to_string())),
            }
        })
        .await
    }
}
