//! The onboarding wizard: eight steps from `/arrakis setup` to a deployed community. Each
//! step's input arrives as a validated update; the workflow's state survives interaction
//! tokens, which last 15 minutes.
//!
//! The draft and its checks live here, not in the workflow, so the worker's update validator,
//! the gateway's forms and the CLI all agree on what a valid answer is.
//!
//! Three files: `contract.rs` (what crosses Temporal), `decide.rs` (the rules, pure, with their
//! tests) and `screen.rs` (the words the worker writes as well as the gateway: step headings,
//! the Deploy screen). Three steps have their own: [`assets`] (ASSET_CONFIG's lookup),
//! [`form`] (the typed forms) and [`picks`] (the pickers of ELIGIBILITY_RULES, ROLE_MAPPING and
//! CHANNEL_STRUCTURE).

pub mod assets;
mod contract;
mod decide;
pub mod form;
pub mod picks;
mod screen;

pub use contract::*;
