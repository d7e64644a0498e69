//! Applying ops to Discord: the part synthesis and reconciliation share.

use crate::retry;
use arrakis_activities::SynthesisActivities;
use arrakis_schemas::{
    CommunityId, GuildId,
    workflows::synthesis::{ApplyOp, Phase, SynthesisOp},
};
use temporalio_sdk::{ActivityExecutionError, WorkflowContext, WorkflowResult, workflows::join_all};

/// Ops applied at once within a phase: enough to keep the rate budget busy, few enough that
/// one guild stays a fair share.
const PARALLELISM: usize = 8;

/// The ops in the order they must be applied: roles, then categories, then channels, a few
/// at a time.
pub(crate) fn batches(ops: &[SynthesisOp]) -> Vec<Vec<&SynthesisOp>> {
    [Phase::Roles, Phase::Categories, Phase::Channels]
        .into_iter()
        .flat_map(|phase| {
            let of_phase: Vec<&SynthesisOp> = ops.iter().filter(|op| op.phase == phase).collect();
            of_phase.chunks(PARALLELISM).map(<[&SynthesisOp]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// Where a batch goes.
pub(crate) struct Target<'a> {
    /// The guild.
    pub guild_id: GuildId,
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version.
    pub version: i32,
    /// The Discord task queue.
    pub queue: &'a str,
}

/// Applies a batch concurrently: each op's description, with the reason if it failed.
pub(crate) async fn apply_batch<W>(
    ctx: &WorkflowContext<W>,
    target: &Target<'_>,
    batch: &[&SynthesisOp],
) -> WorkflowResult<Vec<(String, Option<String>)>> {
    let runs = batch.iter().map(|op| {
        let apply = ApplyOp {
            guild_id: target.guild_id,
            community_id: target.community_id,
            version: target.version,
            op: (*op).clone(),
        };
        ctx.execute_activity(SynthesisActivities::apply, apply, retry::discord_apply(target.queue))
    });
    let mut outcomes = Vec::with_capacity(batch.len());
    for (op, result) in batch.iter().zip(join_all(runs).await) {
        outcomes.push((op.describe(), failure_reason(result)?));
    }
    Ok(outcomes)
}

/// Why an activity failed (`None` if it succeeded); cancellation and the like end the run.
pub(crate) fn failure_reason<T>(result: Result<T, ActivityExecutionError>) -> WorkflowResult<Option<String>> {
    match result {
        Ok(_) => Ok(None),
        Err(ActivityExecutionError::Failed(f)) => {
            Ok(Some(f.cause().map(|c| c.to_string()).unwrap_or_else(|| f.to_string())))
        }
        Err(other) => Err(other.into()),
    }
}
