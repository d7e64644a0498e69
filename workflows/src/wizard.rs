//! The onboarding wizard: one entity workflow per guild (`wizard-{guild_id}`), fed by one
//! validated update per step. Bad input is refused by the validator with the field named and
//! the state unchanged; an idle session expires; DEPLOY saves the manifest, runs synthesis as
//! a child, schedules reconciliation and ends with a summary.

use crate::{GUILD_ID_ATTR, KIND_ATTR, retry};
use arrakis_activities::{
    ManifestActivities, SaveManifestRequest, SynthesisActivities, WizardActivities, shadow::ShadowActivities,
};
use arrakis_schemas::{
    GuildId, Lenient, Mode, Snowflake,
    workflows::{
        incumbent::DetectInput,
        member_sync::EnsureSync,
        synthesis::{self, SynthesisInput, SynthesisOutcome},
        wizard::{
            DEFAULT_IDLE_TIMEOUT_SECS, DeployMessage, DeployScreen, DeployStage, FunnelMark, FunnelStep, GoBack, KIND,
            OpenRequest, PastedManifest, PreviewRequest, ReconcileSchedule, SessionEnd, StepAnswer, WizardDraft,
            WizardInput, WizardOutcome, WizardStatus, WizardStep,
            assets::{AssetEdit, AssetLookup},
            picks::{ChannelEdit, RoleEdit, RuleEdit},
        },
    },
};
use std::{collections::BTreeSet, time::Duration};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, ChildWorkflowOptions, LocalActivityOptions,
    SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Where DEPLOY reports to: the operator channel's progress message, once posted, and
/// (where the run does) the operator's Deploy screen.
struct Progress {
    message: Option<Snowflake>,
    screen: bool,
    reports: u32,
}

/// The longest idle timeout a session may ask for: 30 days.
const IDLE_TIMEOUT_MAX_SECS: u64 = 30 * 24 * 60 * 60;

/// One guild's setup session.
#[workflow]
pub struct WizardWorkflow {
    input: Lenient<WizardInput>,
    parsed: Option<WizardInput>,
    status: WizardStatus,
    /// Where the operator works; DEPLOY posts its progress there.
    channel_id: Option<Snowflake>,
    /// Steps reached, recorded in the funnel by the run loop.
    reached: BTreeSet<WizardStep>,
    /// Bumped by every accepted update: it restarts the idle timer.
    revision: u64,
    /// Set once the run has looked for a deployed manifest to start from: `open` answers
    /// after, so the first screen already shows it.
    loaded: bool,
}

impl WizardWorkflow {
    fn guild(&self) -> Result<GuildId, HandlerError> {
        self.parsed.as_ref().map(|i| i.guild_id).ok_or_else(|| "the session's input is invalid".into())
    }

    fn open_for_input(&self) -> Result<(), HandlerError> {
        if self.status.expired {
            return Err("this setup session expired: run /arrakis setup to start again".into());
        }
        if self.status.step == WizardStep::Deploy {
            return Err("this setup is deploying: /arrakis status shows its progress".into());
        }
        Ok(())
    }

    /// What `open` and `open_session` do: note where the operator works, restart the idle timer.
    fn take_open(&mut self, request: Lenient<OpenRequest>) {
        if let Ok(request) = request.parse() {
            if request.channel_id.is_some() {
                self.channel_id = request.channel_id;
            }
            self.status.take_incumbent(request.incumbent);
        }
        self.revision += 1;
    }

    fn advance(&mut self, step: WizardStep) {
        self.status.step = step;
        self.status.reach(step);
        self.reached.insert(step);
        self.revision += 1;
    }

    /// The preview activity: a read of the guild, retried briefly (the operator is waiting).
    fn preview_options(queue: &str) -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(15))
            .task_queue(queue.to_string())
            .retry_policy(
                RetryPolicy::builder().initial_interval(Duration::from_millis(500)).maximum_attempts(3).build(),
            )
            .build()
    }

    /// The asset lookup: a few chain reads, retried briefly (the operator is waiting), and
    /// a contract Arrakis cannot use is refused at once.
    fn lookup_options() -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .retry_policy(
                RetryPolicy::builder().initial_interval(Duration::from_millis(500)).maximum_attempts(3).build(),
            )
            .build()
    }

    async fn record_reached(
        ctx: &mut WorkflowContext<Self>,
        recorded: &mut BTreeSet<FunnelMark>,
    ) -> WorkflowResult<()> {
        let reached: Vec<FunnelMark> = ctx.state(|s| s.reached.iter().map(|s| FunnelMark::Reached(*s)).collect());
        for step in reached {
            Self::record(ctx, recorded, step).await?;
        }
        Ok(())
    }

    async fn record(
        ctx: &mut WorkflowContext<Self>,
        recorded: &mut BTreeSet<FunnelMark>,
        step: FunnelMark,
    ) -> WorkflowResult<()> {
        if recorded.insert(step) {
            let Some(guild_id) = ctx.state(|s| s.parsed.as_ref().map(|i| i.guild_id)) else { return Ok(()) };
            let row = FunnelStep { guild_id, session_id: ctx.run_id().to_string(), step };
            ctx.execute_activity(WizardActivities::record_step, row, retry::storage()).await?;
        }
        Ok(())
    }

    /// Reports where DEPLOY is: posts (first call) or edits the progress message in the
    /// operator channel, and (in runs that do) edits the operator's Deploy screen. Neither a
    /// channel the bot cannot post in nor a screen that cannot be edited stops the deploy.
    async fn progress(ctx: &mut WorkflowContext<Self>, progress: &mut Progress, content: String) {
        ctx.state_mut(|s| s.status.progress = Some(content.clone()));
        let queue = retry::discord_queue(ctx.task_queue());
        if let Some((guild_id, channel_id)) =
            ctx.state(|s| Some((s.guild().ok()?, s.status.draft.operator_channel_id.or(s.channel_id)?)))
        {
            let request = DeployMessage { guild_id, channel_id, message_id: progress.message, content };
            if let Ok(id) =
                ctx.execute_activity(SynthesisActivities::deploy_message, request, retry::discord(&queue)).await
            {
                progress.message = id.parse().ok();
            }
        }
        Self::edit_screen(ctx, progress).await;
    }

    /// Edits the Deploy screen to the status, skipping the first report: the gateway's answer
    /// to the press shows that one, and Discord knows no message to edit before it is sent.
    async fn edit_screen(ctx: &mut WorkflowContext<Self>, progress: &mut Progress) {
        progress.reports += 1;
        let Some(guild_id) = ctx.state(|s| s.guild().ok()) else { return };
        if !progress.screen || progress.reports == 1 {
            return;
        }
        let (content, finished) = ctx.state(|s| (s.status.deploy_screen(), s.status.deploy_finished()));
        let queue = retry::discord_queue(ctx.task_queue());
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
            .task_queue(queue)
            .retry_policy(
                RetryPolicy::builder().initial_interval(Duration::from_millis(500)).maximum_attempts(4).build(),
            )
            .build();
        let screen = DeployScreen { guild_id, content, finished };
        let _ = ctx.execute_activity(SynthesisActivities::deploy_screen, screen, options).await;
    }

    /// Ends DEPLOY on an error: the summary is the status's, and the screen shows it.
    async fn failed(
        ctx: &mut WorkflowContext<Self>,
        progress: &mut Progress,
        summary: String,
    ) -> WorkflowResult<WizardOutcome> {
        ctx.state_mut(|s| {
            s.status.deploy = DeployStage::Failed;
            s.status.summary = Some(summary.clone());
        });
        if progress.screen {
            Self::progress(ctx, progress, summary.clone()).await;
        }
        Err(ApplicationFailure::builder(summary)
            .type_name("DeployFailed".to_string())
            .non_retryable(true)
            .build()
            .into())
    }

    async fn deploy(
        ctx: &mut WorkflowContext<Self>,
        recorded: &mut BTreeSet<FunnelMark>,
    ) -> WorkflowResult<WizardOutcome> {
        let (input, manifest) = ctx.state(|s| {
            let input = s.parsed.clone();
            (input.clone(), input.map(|i| s.status.draft.manifest(i.guild_id, s.channel_id)))
        });
        // Added after runs were recorded: the patch keeps their replay deterministic.
        let mut progress = Progress { message: None, screen: ctx.patched("wizard-edits-deploy-screen"), reports: 0 };
        let (Some(input), Some(manifest)) = (input, manifest) else {
            return Self::failed(ctx, &mut progress, "the session's input is invalid".into()).await;
        };
        let name = manifest.name.clone();
        ctx.state_mut(|s| s.status.deploy = DeployStage::Saving);
        Self::progress(ctx, &mut progress, format!("Deploying **{name}**: saving the manifest…")).await;
        let request = SaveManifestRequest {
            manifest,
            actor: format!("discord:{}", input.operator_id),
            workflow_id: ctx.workflow_id().to_string(),
        };
        let saved = match ctx.execute_activity(ManifestActivities::save_version, request, retry::storage()).await {
            Ok(saved) => saved,
            Err(e) => return Self::failed(ctx, &mut progress, format!("saving the manifest failed: {e}")).await,
        };
        if ctx.state(|s| s.status.draft.mode) == Mode::Shadow {
            return Self::deploy_in_shadow(ctx, recorded, &input, &name, saved.version, &mut progress).await;
        }
        let synthesis_id = synthesis::workflow_id(input.guild_id, saved.version);
        ctx.state_mut(|s| {
            s.status.deployed_version = Some(saved.version);
            s.status.deploy = DeployStage::Synthesizing;
            s.status.synthesis_workflow_id = Some(synthesis_id.clone());
        });
        Self::progress(
            ctx,
            &mut progress,
            format!("Deploying **{name}**: saved manifest v{}; creating roles and channels…", saved.version),
        )
        .await;
        let removals = ctx.state(|s| s.status.draft.removals.unwrap_or_default());
        let run = Lenient::new(&SynthesisInput { guild_id: input.guild_id, version: saved.version, removals });
        let options = ChildWorkflowOptions::builder().workflow_id(synthesis_id.clone()).build();
        let outcome: Result<SynthesisOutcome, String> =
            match ctx.start_child_workflow(crate::SynthesisWorkflow::run, run, options).await {
                Ok(child) => child.result().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                let summary = format!(
                    "Deploying {name} stopped: synthesis {synthesis_id} failed ({e}). Fix the cause and re-run it (docs/runbook.md)."
                );
                if !progress.screen {
                    Self::progress(ctx, &mut progress, summary.clone()).await;
                }
                return Self::failed(ctx, &mut progress, summary).await;
            }
        };
        ctx.state_mut(|s| s.status.deploy = DeployStage::Scheduling);
        let schedule = ReconcileSchedule { guild_id: input.guild_id, task_queue: ctx.task_queue().to_string() };
        let schedule_id =
            match ctx.execute_activity(WizardActivities::ensure_reconcile_schedule, schedule, retry::storage()).await {
                Ok(id) => id,
                Err(e) => {
                    let summary = format!("creating the reconciliation schedule failed: {e}");
                    return Self::failed(ctx, &mut progress, summary).await;
                }
            };
        // Added after runs were recorded: the patch keeps their replay deterministic.
        let member_sync = if ctx.patched("wizard-starts-member-sync") {
            let ensure = EnsureSync { guild_id: input.guild_id, task_queue: ctx.task_queue().to_string() };
            match ctx.execute_activity(WizardActivities::ensure_member_sync, ensure, retry::storage()).await {
                Ok(id) => format!(" Members get and lose the roles as their holdings change (`{id}`)."),
                Err(e) => return Self::failed(ctx, &mut progress, format!("starting member sync failed: {e}")).await,
            }
        } else {
            String::new()
        };
        let (roles, channels) =
            ctx.state(|s| (s.status.draft.roles.len(), s.status.draft.manifest(input.guild_id, None).channel_count()));
        let summary = format!(
            "Deployed **{name}** (manifest v{}): {roles} role(s) and {channels} channel(s) in place \
             ({} change(s) applied, {} already right). Reconciliation runs every 6 hours (schedule `{schedule_id}`).\
             {member_sync}",
            saved.version, outcome.applied, outcome.unchanged
        );
        ctx.state_mut(|s| {
            s.status.deploy = DeployStage::Done;
            s.status.summary = Some(summary.clone());
        });
        Self::progress(ctx, &mut progress, summary).await;
        Self::record(ctx, recorded, FunnelMark::Ended(SessionEnd::Deployed)).await?;
        Ok(WizardOutcome { status: ctx.state(|s| s.status.clone()) })
    }
}

impl WizardWorkflow {
    /// DEPLOY in shadow mode: the manifest is saved and compared with the incumbent's roles by
    /// a shadow sync started now; nothing is created in Discord.
    async fn deploy_in_shadow(
        ctx: &mut WorkflowContext<Self>,
        recorded: &mut BTreeSet<FunnelMark>,
        input: &WizardInput,
        name: &str,
        version: i32,
        progress: &mut Progress,
    ) -> WorkflowResult<WizardOutcome> {
        ctx.state_mut(|s| {
            s.status.deployed_version = Some(version);
            s.status.deploy = DeployStage::Shadowing;
        });
        let queue = retry::discord_queue(ctx.task_queue());
        let detect = DetectInput { guild_id: input.guild_id, operator_override: None, digest: None, on_join: true };
        let found = match ctx.execute_activity(ShadowActivities::begin, detect, retry::discord(&queue)).await {
            Ok(found) => found,
            Err(e) => return Self::failed(ctx, progress, format!("starting shadow mode failed: {e}")).await,
        };
        let summary = match (&found.finding.incumbent, &found.schedule_id) {
            (Some(incumbent), Some(schedule)) => format!(
                "Saved **{name}** (manifest v{version}) in shadow mode: nothing changes in Discord. Arrakis now \
                 compares its verdicts with {}'s roles every 6 hours (schedule `{schedule}`; the first sync runs \
                 now). `/arrakis status` shows the accuracy and the days in shadow.",
                incumbent.signature().name
            ),
            _ => format!(
                "Saved **{name}** (manifest v{version}) in shadow mode: nothing changes in Discord. No incumbent \
                 bot was found here, so there is nothing to compare with: choose `exclusive` or `parallel` in \
                 setup for Arrakis to manage the roles."
            ),
        };
        ctx.state_mut(|s| {
            s.status.deploy = DeployStage::Done;
            s.status.summary = Some(summary.clone());
        });
        Self::progress(ctx, progress, summary).await;
        Self::record(ctx, recorded, FunnelMark::Ended(SessionEnd::Deployed)).await?;
        Ok(WizardOutcome { status: ctx.state(|s| s.status.clone()) })
    }
}

#[workflow_methods]
impl WizardWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<WizardInput>) -> Self {
        let parsed = input.parse().ok();
        let mut status = WizardStatus { guild_id: parsed.as_ref().map(|i| i.guild_id), ..WizardStatus::default() };
        status.reach(WizardStep::Init);
        Self {
            channel_id: parsed.as_ref().and_then(|i| i.channel_id),
            input,
            parsed,
            status: WizardStatus { draft: arrakis_schemas::workflows::wizard::WizardDraft::new(), ..status },
            reached: BTreeSet::from([WizardStep::Init]),
            revision: 0,
            loaded: false,
        }
    }

    /// Waits for the operator step by step; expires when idle; deploys once confirmed.
    #[run(name = "Wizard")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<WizardOutcome> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("wizard", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let idle_secs = input.idle_timeout_secs.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
        if idle_secs == 0 || idle_secs > IDLE_TIMEOUT_MAX_SECS {
            let mut errors = arrakis_schemas::ValidationErrors::default();
            errors.push("idle_timeout_secs", format!("between 1 and {IDLE_TIMEOUT_MAX_SECS} (30 days)"));
            return Err(crate::invalid_input("wizard", &errors));
        }
        let idle = Duration::from_secs(idle_secs);
        if ctx.patched("wizard-starts-from-deployed") {
            // A local activity: one database read inside this first workflow task, so the
            // answer to `/arrakis setup` waits no extra round trip for it.
            let options = LocalActivityOptions::builder()
                .start_to_close_timeout(Duration::from_secs(5))
                .retry_policy(RetryPolicy::builder().maximum_attempts(3).build())
                .build();
            let deployed = ctx
                .execute_local_activity(WizardActivities::deployed_manifest, input.guild_id, options)
                .await
                .ok()
                .flatten();
            ctx.state_mut(|s| {
                if let Some(deployed) = deployed
                    && s.status.draft == WizardDraft::new()
                {
                    s.status.draft = WizardDraft::from_manifest(&deployed.manifest);
                    s.status.editing_version = Some(deployed.version);
                }
            });
        }
        ctx.state_mut(|s| s.loaded = true);
        if ctx.patched("wizard-offers-configured-chains") {
            // While the operator reads the first step: CHAIN_SELECT offers what the worker
            // reads. A worker that cannot say leaves the well-known list.
            let offered = ctx
                .execute_activity(WizardActivities::configured_chains, (), retry::storage())
                .await
                .unwrap_or_default();
            ctx.state_mut(|s| s.status.chains_offered = Some(offered));
        }
        let mut recorded = BTreeSet::new();
        loop {
            // Read before recording: an update that lands while the row is written still wakes
            // the wait below.
            let seen = ctx.state(|s| s.revision);
            Self::record_reached(ctx, &mut recorded).await?;
            if ctx.state(|s| s.status.step == WizardStep::Deploy) {
                break;
            }
            let idle_out = temporalio_sdk::workflows::select! {
                _ = ctx.timer(idle) => true,
                r = ctx.wait_condition(move |s: &Self| s.revision != seen) => { r?; false }
            };
            if idle_out {
                ctx.state_mut(|s| s.status.expired = true);
                Self::record(ctx, &mut recorded, FunnelMark::Ended(SessionEnd::Expired)).await?;
                let c = ctx.clone();
                ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
                return Ok(WizardOutcome { status: ctx.state(|s| s.status.clone()) });
            }
        }
        let outcome = Self::deploy(ctx, &mut recorded).await;
        let c = ctx.clone();
        ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
        outcome
    }

    /// Opens the session (or re-opens it from `/arrakis setup` or `/arrakis resume`): the
    /// current step and the answers so far.
    #[update(name = "open")]
    pub fn open(&mut self, _ctx: &mut SyncWorkflowContext<Self>, request: Lenient<OpenRequest>) -> WizardStatus {
        self.take_open(request);
        self.status.clone()
    }

    /// As `open`, answered once the run has looked for a deployed manifest to start from,
    /// so the first screen of `/arrakis setup` after a deploy already holds it. (A new name:
    /// `open` stays as it was, so recorded sessions replay.)
    #[update(name = "open_session")]
    pub async fn open_session(
        ctx: &mut WorkflowContext<Self>,
        request: Lenient<OpenRequest>,
    ) -> Result<WizardStatus, HandlerError> {
        ctx.wait_condition(|s: &Self| s.loaded).await.map_err(|e| e.to_string())?;
        Ok(ctx.state_mut(|s| {
            s.take_open(request);
            s.status.clone()
        }))
    }

    #[update_validator(open_session)]
    fn validate_open_session(
        &self,
        _ctx: &WorkflowContextView,
        request: &Lenient<OpenRequest>,
    ) -> Result<(), HandlerError> {
        request.parse().map_err(|e| format!("invalid open request: {e}"))?;
        self.guild()?;
        self.open_for_input()
    }

    #[update_validator(open)]
    fn validate_open(&self, _ctx: &WorkflowContextView, request: &Lenient<OpenRequest>) -> Result<(), HandlerError> {
        request.parse().map_err(|e| format!("invalid open request: {e}"))?;
        self.guild()?;
        self.open_for_input()
    }

    /// Takes one step's answer (checked by the validator) and moves to the next step. The
    /// answer to CHANNEL_STRUCTURE also computes REVIEW's plan against Discord.
    #[update(name = "submit_step")]
    pub async fn submit_step(
        ctx: &mut WorkflowContext<Self>,
        answer: Lenient<StepAnswer>,
    ) -> Result<WizardStatus, HandlerError> {
        let answer = answer.parse().map_err(|e| e.to_string())?;
        let guild_id = ctx.state(|s| s.guild())?;
        let next = answer.step().next();
        let plan = if next == WizardStep::Review {
            let draft = ctx.state(|s| s.status.draft.with(&answer));
            let request = PreviewRequest { manifest: draft.manifest(guild_id, None) };
            let queue = retry::discord_queue(ctx.task_queue());
            let plan = ctx
                .execute_activity(SynthesisActivities::preview, request, Self::preview_options(&queue))
                .await
                .map_err(|e| format!("could not read the guild from Discord to plan the deploy ({e}); try again"))?;
            Some(plan)
        } else {
            None
        };
        ctx.state_mut(|s| {
            s.status.draft = s.status.draft.with(&answer);
            if plan.is_some() || next < WizardStep::Review {
                s.status.plan = plan;
            }
            s.advance(next);
            s.status.clone()
        });
        Ok(ctx.state(|s| s.status.clone()))
    }

    #[update_validator(submit_step)]
    fn validate_submit_step(
        &self,
        _ctx: &WorkflowContextView,
        answer: &Lenient<StepAnswer>,
    ) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let answer = answer.parse().map_err(|e| e.to_string())?;
        self.status.check_review(&answer).map_err(|e| e.to_string())?;
        self.status.check_chains(&answer).map_err(|e| e.to_string())?;
        self.status.check_init(&answer).map_err(|e| e.to_string())?;
        self.status.draft.check(self.guild()?, self.status.step, &answer).map_err(|e| e.to_string().into())
    }

    /// ASSET_CONFIG by address: looks a contract up on its chain (the finding waits for the
    /// operator's word), confirms or discards the finding, or removes an asset.
    #[update(name = "asset")]
    pub async fn asset(
        ctx: &mut WorkflowContext<Self>,
        edit: Lenient<AssetEdit>,
    ) -> Result<WizardStatus, HandlerError> {
        let edit =
            ctx.state(|s| edit.parse().and_then(|e| s.status.check_asset_edit(&e))).map_err(|e| e.to_string())?;
        if let AssetEdit::LookUp { chain_id, address, token_id } = edit {
            let lookup = AssetLookup { chain_id, address, token_id };
            let found =
                match ctx.execute_activity(WizardActivities::inspect_asset, lookup, Self::lookup_options()).await {
                    Ok(found) => found,
                    Err(ActivityExecutionError::Failed(f)) => {
                        return Err(f.cause().map(|c| c.to_string()).unwrap_or_else(|| f.to_string()).into());
                    }
                    Err(other) => return Err(other.to_string().into()),
                };
            ctx.state_mut(|s| s.status.found_asset = Some(found));
        } else {
            ctx.state_mut(|s| s.status.apply_asset_edit(&edit));
        }
        ctx.state_mut(|s| s.revision += 1);
        Ok(ctx.state(|s| s.status.clone()))
    }

    #[update_validator(asset)]
    fn validate_asset(&self, _ctx: &WorkflowContextView, edit: &Lenient<AssetEdit>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let edit = edit.parse().map_err(|e| e.to_string())?;
        self.status.check_asset_edit(&edit).map(|_| ()).map_err(|e| e.to_string().into())
    }

    /// ELIGIBILITY_RULES from pickers: adds or removes one rule (submitted with the step).
    #[update(name = "rule")]
    pub fn rule(&mut self, _ctx: &mut SyncWorkflowContext<Self>, edit: Lenient<RuleEdit>) -> WizardStatus {
        if let (Ok(guild), Ok(edit)) = (self.guild(), edit.parse())
            && let Ok(rules) = self.status.check_rule_edit(guild, &edit)
        {
            self.status.draft.rules = rules;
            self.revision += 1;
        }
        self.status.clone()
    }

    #[update_validator(rule)]
    fn validate_rule(&self, _ctx: &WorkflowContextView, edit: &Lenient<RuleEdit>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let edit = edit.parse().map_err(|e| e.to_string())?;
        self.status.check_rule_edit(self.guild()?, &edit).map(|_| ()).map_err(|e| e.to_string().into())
    }

    /// ROLE_MAPPING from pickers or the theme's tiers: adds or removes roles.
    #[update(name = "role")]
    pub fn role(&mut self, _ctx: &mut SyncWorkflowContext<Self>, edit: Lenient<RoleEdit>) -> WizardStatus {
        if let (Ok(guild), Ok(edit)) = (self.guild(), edit.parse())
            && let Ok(roles) = self.status.check_role_edit(guild, &edit)
        {
            self.status.draft.roles = roles;
            self.revision += 1;
        }
        self.status.clone()
    }

    #[update_validator(role)]
    fn validate_role(&self, _ctx: &WorkflowContextView, edit: &Lenient<RoleEdit>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let edit = edit.parse().map_err(|e| e.to_string())?;
        self.status.check_role_edit(self.guild()?, &edit).map(|_| ()).map_err(|e| e.to_string().into())
    }

    /// CHANNEL_STRUCTURE in place: the theme's template, or one category or channel added,
    /// renamed or removed; Next submits the result like any other answer.
    #[update(name = "channel")]
    pub fn channel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, edit: Lenient<ChannelEdit>) -> WizardStatus {
        if let (Ok(guild), Ok(edit)) = (self.guild(), edit.parse())
            && let Ok(channels) = self.status.check_channel_edit(guild, &edit)
        {
            self.status.draft.channels = channels;
            self.revision += 1;
        }
        self.status.clone()
    }

    #[update_validator(channel)]
    fn validate_channel(&self, _ctx: &WorkflowContextView, edit: &Lenient<ChannelEdit>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let edit = edit.parse().map_err(|e| e.to_string())?;
        self.status.check_channel_edit(self.guild()?, &edit).map(|_| ()).map_err(|e| e.to_string().into())
    }

    /// "Paste a manifest": the draft becomes the pasted manifest (checked by the validator
    /// like every other path) and the session moves to REVIEW with its plan against Discord.
    #[update(name = "paste_manifest")]
    pub async fn paste_manifest(
        ctx: &mut WorkflowContext<Self>,
        pasted: Lenient<PastedManifest>,
    ) -> Result<WizardStatus, HandlerError> {
        let pasted = pasted.parse().map_err(|e| e.to_string())?;
        let mut draft = WizardDraft::from_manifest(&pasted.manifest);
        draft.operator_channel_id = draft.operator_channel_id.or(ctx.state(|s| s.status.draft.operator_channel_id));
        let request = PreviewRequest { manifest: pasted.manifest };
        let queue = retry::discord_queue(ctx.task_queue());
        let plan = ctx
            .execute_activity(SynthesisActivities::preview, request, Self::preview_options(&queue))
            .await
            .map_err(|e| format!("could not read the guild from Discord to plan the deploy ({e}); try again"))?;
        Ok(ctx.state_mut(|s| {
            s.status.draft = draft;
            s.status.found_asset = None;
            s.status.plan = Some(plan);
            s.advance(WizardStep::Review);
            s.status.clone()
        }))
    }

    #[update_validator(paste_manifest)]
    fn validate_paste_manifest(
        &self,
        _ctx: &WorkflowContextView,
        pasted: &Lenient<PastedManifest>,
    ) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let pasted = pasted.parse().map_err(|e| e.to_string())?;
        let chains = StepAnswer::ChainSelect { chains: pasted.manifest.chains.clone() };
        self.status.check_chains(&chains).map_err(|e| e.to_string())?;
        pasted.check(self.guild()?).map_err(|e| e.to_string().into())
    }

    /// Returns to an earlier step to edit it; later answers are kept and shown again.
    #[update(name = "go_back")]
    pub fn go_back(&mut self, _ctx: &mut SyncWorkflowContext<Self>, request: Lenient<GoBack>) -> WizardStatus {
        if let Ok(request) = request.parse() {
            self.advance(request.to);
        }
        self.status.clone()
    }

    #[update_validator(go_back)]
    fn validate_go_back(&self, _ctx: &WorkflowContextView, request: &Lenient<GoBack>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let request = request.parse().map_err(|e| e.to_string())?;
        if request.to >= self.status.step {
            return Err(format!(
                "to: go back to a step before {} (got {})",
                self.status.step.as_str(),
                request.to.as_str()
            )
            .into());
        }
        Ok(())
    }

    /// The step, the answers, REVIEW's plan and DEPLOY's progress.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WizardStatus {
        self.status.clone()
    }
}
