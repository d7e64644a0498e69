//! Shadow sync (`shadow-sync-{guild_id}`): page through a guild's members, compare Arrakis's
//! verdicts with the incumbent's roles, and keep the accuracy figure, changing nothing in
//! Discord. Progress rides in the input across continue-as-new, so history stays bounded and
//! a lost worker costs at most the page it was reading.

use crate::{GUILD_ID_ATTR, KIND_ATTR, MODE_ATTR, retry};
use arrakis_activities::{SynthesisActivities, shadow::ShadowActivities};
use arrakis_schemas::{
    Lenient,
    workflows::shadow_sync::{
        DEFAULT_PAGES_PER_RUN, FinishSync, KIND, ShadowSyncInput, ShadowSyncStatus, StartSync, SyncPage, SyncPhase,
        SyncProgress, SyncStart, SyncTally,
    },
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ContinueAsNewOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

/// One sync, possibly over several runs.
#[workflow]
pub struct ShadowSyncWorkflow {
    input: Lenient<ShadowSyncInput>,
    status: ShadowSyncStatus,
}

#[workflow_methods]
impl ShadowSyncWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<ShadowSyncInput>) -> Self {
        Self { input, status: ShadowSyncStatus::default() }
    }

    /// Starts (or resumes) the sync, reads pages until the last one or the run's share, then
    /// finishes or continues as new.
    #[run(name = "ShadowSync")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ShadowSyncStatus> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("shadow sync", &s.input))?;
        input.check().map_err(|errors| crate::invalid_input("shadow sync", &errors))?;
        let guild_id = input.guild_id;
        ctx.upsert_search_attributes([
            GUILD_ID_ATTR.value_set(guild_id.to_string()),
            MODE_ATTR.value_set("shadow".to_string()),
        ]);
        let queue = retry::discord_queue(ctx.task_queue());
        let pages_per_run = input.pages_per_run.unwrap_or(DEFAULT_PAGES_PER_RUN);

        let mut progress = match input.progress.clone() {
            Some(progress) => progress,
            None => {
                let sync_id = ctx.uuid4();
                ctx.state_mut(|s| s.status.sync_id = Some(sync_id.clone()));
                let start = StartSync { guild_id, sync_id: sync_id.clone() };
                match ctx.execute_activity(ShadowActivities::start, start, retry::discord(&queue)).await? {
                    SyncStart::Skip(why) => {
                        ctx.state_mut(|s| {
                            s.status.phase = SyncPhase::Skipped;
                            s.status.skipped = Some(why);
                        });
                        return Ok(ctx.state(|s| s.status.clone()));
                    }
                    SyncStart::Plan(plan) => {
                        SyncProgress { sync_id, plan, after: None, tally: SyncTally::default(), runs: 0 }
                    }
                }
            }
        };
        Self::show(ctx, &progress, SyncPhase::Paging);

        let mut pages = 0;
        loop {
            let page = SyncPage {
                guild_id,
                sync_id: progress.sync_id.clone(),
                plan: progress.plan.clone(),
                after: progress.after,
            };
            let outcome = ctx.execute_activity(ShadowActivities::page, page, retry::shadow_page(&queue)).await?;
            progress.tally.add(&outcome.tally);
            progress.after = outcome.last.or(progress.after);
            pages += 1;
            Self::show(ctx, &progress, SyncPhase::Paging);
            if outcome.done || outcome.last.is_none() {
                break;
            }
            if pages >= pages_per_run || ctx.continue_as_new_suggested() {
                let next = ShadowSyncInput {
                    guild_id,
                    pages_per_run: input.pages_per_run,
                    progress: Some(SyncProgress { runs: progress.runs + 1, ..progress.clone() }),
                };
                ctx.continue_as_new(Lenient::new(&next), ContinueAsNewOptions::default())?;
            }
        }

        Self::show(ctx, &progress, SyncPhase::Finishing);
        let finish = FinishSync {
            guild_id,
            sync_id: progress.sync_id.clone(),
            community_id: progress.plan.community_id,
            tally: progress.tally,
        };
        let finished = ctx.execute_activity(ShadowActivities::finish, finish, retry::discord(&queue)).await?;
        if let Some(notice) = finished.digest {
            // The digest is a courtesy the operator asked for; a refused post changes nothing.
            let _ = ctx.execute_activity(SynthesisActivities::notify_operator, notice, retry::discord(&queue)).await;
        }
        ctx.state_mut(|s| {
            s.status.summary = Some(finished.summary);
            s.status.phase = SyncPhase::Done;
        });
        Ok(ctx.state(|s| s.status.clone()))
    }

    /// Where the sync stands.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> ShadowSyncStatus {
        self.status.clone()
    }
}

impl ShadowSyncWorkflow {
    fn show(ctx: &mut WorkflowContext<Self>, progress: &SyncProgress, phase: SyncPhase) {
        ctx.state_mut(|s| {
            s.status.sync_id = Some(progress.sync_id.clone());
            s.status.phase = phase;
            s.status.after = progress.after;
            s.status.tally = progress.tally;
            s.status.runs = progress.runs;
        });
    }
}
