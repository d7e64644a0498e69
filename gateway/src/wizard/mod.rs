//! How the wizard looks in Discord: each step as an ephemeral message with buttons or a
//! select, each form as a modal (text inputs and selects inside Labels, at most five), and the
//! parsing of what comes back. Presentation only: whether an answer is acceptable is decided by
//! the workflow's validator.
//!
//! One file per concern: [`ids`] (every custom id), [`steps`] (each step's message),
//! [`review`] (REVIEW's plan), [`strategies`] (the channel and migration strategies in
//! words), [`forms`] and [`picks`] (the modals and their parsing), and [`answer`] (what a
//! wizard button, select or form does).
//!
//! The step headings and the Deploy screen are in `arrakis_schemas::workflows::wizard`
//! (`screen.rs`): the worker edits the Deploy screen as the deploy moves, so the words are
//! where both processes can read them.

pub mod answer;
pub mod forms;
pub mod ids;
pub mod picks;
pub mod review;
pub mod steps;
pub mod strategies;
#[cfg(test)]
mod tests;

pub use forms::{
    asset_modal, found_fields, modal, modal_from_prompt, parse_asset_form, parse_form, paste_modal, prefill, rejected,
    rejected_with, typed_in_rejection,
};
pub use ids::{AssetAction, PREFIX, PickForm, WizardAction};
pub use picks::{Picked, parse_pick, pick_modal};
pub use steps::{chain_options, prompt};
