//! The wizard's words that the worker writes too: each step's heading and title, the Deploy
//! screen and the funnel line.
//!
//! Every other screen of the wizard is the gateway's (`gateway/src/wizard/`). The Deploy
//! screen is here because two processes write it: the gateway when the operator presses Deploy
//! or Refresh, and the worker, which edits it as the deploy moves (its text is the
//! `wizard.deploy_screen` activity's input, computed in workflow code, which cannot depend on
//! the gateway). One function keeps both the same.

use super::contract::{DeployStage, WizardStatus, WizardStep};

impl WizardStep {
    /// The line every screen of the step starts with.
    pub fn heading(self) -> String {
        format!("**Arrakis setup — step {}/8: {}**", self.index() + 1, self.title())
    }

    /// A title for people ("Eligibility rules").
    pub fn title(self) -> &'static str {
        match self {
            Self::Init => "Community",
            Self::ChainSelect => "Chains",
            Self::AssetConfig => "Assets",
            Self::EligibilityRules => "Eligibility rules",
            Self::RoleMapping => "Roles",
            Self::ChannelStructure => "Channels",
            Self::Review => "Review",
            Self::Deploy => "Deploy",
        }
    }
}

impl WizardStatus {
    /// The Deploy screen: where the deploy is, then how it ended. The gateway shows it when
    /// Deploy or Refresh is pressed, and the worker edits the screen to it as the deploy moves.
    pub fn deploy_screen(&self) -> String {
        let stage = match self.deploy {
            DeployStage::Pending | DeployStage::Saving => "saving the manifest",
            DeployStage::Synthesizing => "creating roles and channels",
            DeployStage::Shadowing => "starting shadow mode",
            DeployStage::Scheduling => "scheduling reconciliation",
            DeployStage::Done => "done",
            DeployStage::Failed => "stopped",
        };
        let body =
            self.summary.clone().or_else(|| self.progress.clone()).unwrap_or_else(|| format!("Deploying: {stage}…"));
        format!("{}\n{body}", WizardStep::Deploy.heading())
    }

    /// The session's funnel in one line: each step, marked as reached, current or not yet.
    /// Where an operator dropped out is the step marked current in an expired session.
    pub fn funnel_line(&self) -> String {
        WizardStep::ALL
            .iter()
            .map(|step| {
                let mark = if *step == self.step && self.is_open() {
                    " ← here"
                } else if *step == self.step && self.expired {
                    " ✗ (stopped here)"
                } else if self.reached.contains(step) {
                    " ✓"
                } else {
                    ""
                };
                format!("{}{mark}", step.title())
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}
