//! Wallet linking (`wallet-link-{guild_id}-{user_id}`): a challenge per `/verify`, the signed
//! answer as a second update, both validated before anything runs. Ends once linked, or when
//! the challenge expires unsigned.

use crate::{GUILD_ID_ATTR, KIND_ATTR};
use arrakis_activities::eligibility::MemberActivities;
use arrakis_schemas::{
    Lenient,
    temporal::WalletLinkedSignal,
    workflows::{
        member_sync::WalletLinked,
        members::RolesSeen,
        wallet_link::{
            ChallengeRequest, IssueChallenge, KIND, LinkOutcome, LinkWallet, SignatureSubmission, WalletLinkInput,
            WalletLinkStatus, check_address, check_signature,
        },
    },
};
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// How long the session waits for a signature after the last challenge (the challenge's own
/// lifetime, ten minutes, plus a margin).
const SESSION_IDLE: Duration = Duration::from_secs(11 * 60);

/// A member is waiting: a few quick attempts, then a clear error.
fn member_facing() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy::builder().initial_interval(Duration::from_millis(500)).maximum_attempts(3).build())
        .build()
}

/// One member's linking session.
#[workflow]
pub struct WalletLinkWorkflow {
    input: Lenient<WalletLinkInput>,
    parsed: Option<WalletLinkInput>,
    status: WalletLinkStatus,
    /// Bumped by every accepted update: it restarts the idle timer.
    revision: u64,
    /// The member's roles as the linking interaction showed them, passed on to member sync.
    roles_seen: Option<RolesSeen>,
}

impl WalletLinkWorkflow {
    fn open(&self) -> Result<WalletLinkInput, HandlerError> {
        if self.status.linked.is_some() {
            return Err("this wallet is already linked: run /verify again to link another".into());
        }
        if self.status.expired {
            return Err("this challenge expired: run /verify again".into());
        }
        self.parsed.clone().ok_or_else(|| "the session's input is invalid".into())
    }
}

#[workflow_methods]
impl WalletLinkWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<WalletLinkInput>) -> Self {
        Self { parsed: input.parse().ok(), input, status: WalletLinkStatus::default(), revision: 0, roles_seen: None }
    }

    /// Waits for challenges and signatures; ends when linked or idle past the challenge.
    #[run(name = "WalletLink")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<WalletLinkStatus> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("wallet link", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        loop {
            let seen = ctx.state(|s| s.revision);
            if ctx.state(|s| s.status.linked.is_some()) {
                break;
            }
            let idle = temporalio_sdk::workflows::select! {
                _ = ctx.timer(SESSION_IDLE) => true,
                r = ctx.wait_condition(move |s: &Self| s.revision != seen) => { r?; false }
            };
            if idle {
                ctx.state_mut(|s| s.status.expired = s.status.linked.is_none());
                break;
            }
        }
        // Added after runs were recorded: the patch keeps their replay deterministic.
        if ctx.state(|s| s.status.linked.is_some()) && ctx.patched("wallet-link-tells-member-sync") {
            let roles_seen = ctx.state(|s| s.roles_seen.clone());
            let linked = Lenient::new(&WalletLinked { user_id: input.user_id, roles_seen });
            crate::tell_member_sync(ctx, input.guild_id, WalletLinkedSignal, linked).await;
        }
        let c = ctx.clone();
        ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
        Ok(ctx.state(|s| s.status.clone()))
    }

    /// Issues a fresh challenge for the claimed address (replacing any earlier one).
    #[update(name = "challenge")]
    pub async fn challenge(
        ctx: &mut WorkflowContext<Self>,
        request: Lenient<ChallengeRequest>,
    ) -> Result<WalletLinkStatus, HandlerError> {
        let request = request.parse().map_err(|e| e.to_string())?;
        let input = ctx.state(|s| s.open())?;
        let issue = IssueChallenge { guild_id: input.guild_id, user_id: input.user_id, address: request.address };
        let view = ctx
            .execute_activity(MemberActivities::challenge, issue, member_facing())
            .await
            .map_err(|e| format!("could not issue a challenge: {e}"))?;
        Ok(ctx.state_mut(|s| {
            s.status.challenge = Some(view);
            s.status.refused = None;
            s.revision += 1;
            s.status.clone()
        }))
    }

    #[update_validator(challenge)]
    fn validate_challenge(
        &self,
        _ctx: &WorkflowContextView,
        request: &Lenient<ChallengeRequest>,
    ) -> Result<(), HandlerError> {
        self.open()?;
        let request = request.parse().map_err(|e| e.to_string())?;
        check_address(&request.address).map_err(Into::into)
    }

    /// Checks the signature over the current challenge; links the wallet when it is right.
    #[update(name = "submit_signature")]
    pub async fn submit_signature(
        ctx: &mut WorkflowContext<Self>,
        submission: Lenient<SignatureSubmission>,
    ) -> Result<WalletLinkStatus, HandlerError> {
        let submission = submission.parse().map_err(|e| e.to_string())?;
        let input = ctx.state(|s| s.open())?;
        let nonce = ctx.state(|s| s.status.challenge.as_ref().map(|c| c.nonce.clone())).unwrap_or_default();
        let roles_seen = submission.roles_seen;
        let link =
            LinkWallet { guild_id: input.guild_id, user_id: input.user_id, nonce, signature: submission.signature };
        let outcome = ctx
            .execute_activity(MemberActivities::link, link, member_facing())
            .await
            .map_err(|e| format!("could not check the signature: {e}"))?;
        match outcome {
            LinkOutcome::Linked(address) => Ok(ctx.state_mut(|s| {
                s.status.linked = Some(address);
                s.roles_seen = roles_seen;
                s.status.refused = None;
                s.revision += 1;
                s.status.clone()
            })),
            LinkOutcome::Refused(why) => {
                ctx.state_mut(|s| {
                    s.status.refused = Some(why.clone());
                    s.revision += 1;
                });
                Err(why.into())
            }
        }
    }

    #[update_validator(submit_signature)]
    fn validate_submit_signature(
        &self,
        _ctx: &WorkflowContextView,
        submission: &Lenient<SignatureSubmission>,
    ) -> Result<(), HandlerError> {
        self.open()?;
        if self.status.challenge.is_none() {
            return Err("no challenge yet: run /verify with your address first".into());
        }
        let submission = submission.parse().map_err(|e| e.to_string())?;
        if let Some(seen) = &submission.roles_seen {
            seen.check()?;
        }
        check_signature(&submission.signature).map_err(Into::into)
    }

    /// The challenge, the link, the last refusal.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WalletLinkStatus {
        self.status.clone()
    }
}
