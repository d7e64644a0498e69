//! The wizard's side effects: the funnel rows, the REVIEW plan, the DEPLOY progress message,
//! and the reconciliation schedule a deployed guild gets.

use crate::{CommunityId, Store, StoreError, SynthesisActivities, discord::DiscordFailure, synthesis::kind_of};
use arrakis_schemas::{
    Lenient,
    temporal::Reconcile,
    workflows::{
        reconcile::{ReconcileInput, ReconcileMode},
        synthesis::OpAction,
        wizard::{DeployMessage, DeployPlan, FunnelStep, PlannedItem, PreviewRequest, ReconcileSchedule},
    },
};
use std::{sync::Arc, time::Duration};
use temporalio_client::{
    Client,
    schedules::{CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy, ScheduleSpec},
    tonic::Code,
};
use temporalio_macros::activities;
use temporalio_sdk::{
    ApplicationFailure,
    activities::{ActivityContext, ActivityError},
};
use twilight_model::id::Id;

/// How often a deployed guild is reconciled, and how much each run's start is spread.
const RECONCILE_EVERY: Duration = Duration::from_secs(6 * 60 * 60);
const RECONCILE_JITTER: Duration = Duration::from_secs(30 * 60);

fn fail(message: impl Into<String>, type_name: &str, retryable: bool) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into()).type_name(type_name.to_string()).non_retryable(!retryable).build(),
    )
}

fn storage(e: StoreError) -> ActivityError {
    fail(e.to_string(), "StorageUnavailable", true)
}

/// The wizard's activities on the main task queue: storage and Temporal schedules.
pub struct WizardActivities {
    store: Store,
    client: Client,
}

impl WizardActivities {
    /// Activities over `store`, creating schedules through `client`.
    pub fn new(store: Store, client: Client) -> Self {
        Self { store, client }
    }

    async fn community(&self, guild: arrakis_schemas::GuildId) -> Result<CommunityId, ActivityError> {
        let mut service = self.store.service().await.map_err(storage)?;
        let community = service.ensure_guild_community(guild).await.map_err(storage)?;
        service.commit().await.map_err(storage)?;
        Ok(community)
    }
}

#[activities]
impl WizardActivities {
    /// Records a funnel row: the session reached this step (idempotent).
    #[activity(name = "wizard.record_step")]
    pub async fn record_step(self: Arc<Self>, _ctx: ActivityContext, input: FunnelStep) -> Result<(), ActivityError> {
        let community = self.community(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_funnel_step(&input.session_id, &input.step).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Creates the guild's 6-hourly reconciliation schedule (`reconcile-{guild_id}`); an
    /// existing one is kept as it is.
    #[activity(name = "schedule.ensure_reconcile")]
    pub async fn ensure_reconcile_schedule(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReconcileSchedule,
    ) -> Result<String, ActivityError> {
        let id = format!("reconcile-{}", input.guild_id);
        let run = Lenient::new(&ReconcileInput { guild_id: input.guild_id, mode: ReconcileMode::Apply });
        let options = CreateScheduleOptions::builder()
            .action(ScheduleAction::start_workflow(Reconcile, run, input.task_queue, id.clone()))
            .spec(ScheduleSpec::builder().intervals(vec![RECONCILE_EVERY.into()]).jitter(RECONCILE_JITTER).build())
            .overlap_policy(ScheduleOverlapPolicy::Skip)
            .note(format!("reconcile guild {} (created by the wizard's DEPLOY)", input.guild_id))
            .build();
        match self.client.create_schedule(id.clone(), options).await {
            Ok(_) => Ok(id),
            Err(ScheduleError::Rpc(status)) if status.code() == Code::AlreadyExists => Ok(id),
            Err(e) => Err(fail(format!("creating schedule {id}: {e}"), "TemporalUnavailable", true)),
        }
    }
}

impl SynthesisActivities {
    /// What deploying `request.manifest` would do: the synthesis plan of the draft against
    /// the guild (and what Arrakis applied before, if anything). Reads only.
    pub async fn preview_plan(&self, request: &PreviewRequest) -> Result<DeployPlan, ActivityError> {
        let guild_id = request.manifest.guild_id;
        let mut service = self.store().service().await.map_err(storage)?;
        let community = service.community_by_guild(guild_id).await.map_err(storage)?;
        drop(service);
        let (community_id, states) = match community {
            Some(c) => {
                let mut tx = self.store().tenant(c.community_id).await.map_err(storage)?;
                (c.community_id.to_string(), tx.shadow_states().await.map_err(storage)?)
            }
            None => (String::new(), Vec::new()),
        };
        let assessment = self.assess_against(guild_id, community_id, &request.manifest, 0, &states).await?;
        let mut plan = DeployPlan { unchanged: assessment.unchanged, ..DeployPlan::default() };
        for op in assessment.ops {
            let item = PlannedItem { kind: kind_of(op.phase).to_string(), key: op.key, name: op.desired.name };
            match op.action {
                OpAction::Create => plan.create.push(item),
                _ => plan.update.push(item),
            }
        }
        Ok(plan)
    }

    /// Posts the DEPLOY progress message, or edits it; returns its id.
    pub async fn post_deploy_message(&self, input: &DeployMessage) -> Result<String, ActivityError> {
        let guild = Some(input.guild_id.get());
        let channel = Id::new(input.channel_id.get());
        let content: String = input.content.chars().take(1900).collect();
        let failure = |e: DiscordFailure| e.into_activity_error();
        let message = match input.message_id {
            Some(id) => {
                let request = self.discord().http().update_message(channel, Id::new(id.get())).content(Some(&content));
                self.discord().send(guild, "PATCH /channels/{id}/messages/{id}", request).await.map_err(failure)?
            }
            None => {
                let request = self.discord().http().create_message(channel).content(&content);
                self.discord().send(guild, "POST /channels/{id}/messages", request).await.map_err(failure)?
            }
        };
        let message = message.model().await.map_err(|e| fail(e.to_string(), "DiscordUnavailable", true))?;
        Ok(message.id.to_string())
    }
}
