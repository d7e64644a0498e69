//! The application commands the gateway registers at start, idempotently (a bulk overwrite:
//! Discord keeps commands whose definition did not change).

use anyhow::Context;
use serde_json::json;
use twilight_http::Client;
use twilight_model::{
    application::command::Command,
    id::{Id, marker::ApplicationMarker},
};

/// The command everything hangs off.
pub const ARRAKIS: &str = "arrakis";
/// Manage Server: the permission the admin commands need (bit 5). `ADMINISTRATOR` implies it.
pub const MANAGE_GUILD: u64 = 1 << 5;

// The member commands, and the custom ids of what their answers show: registered here, answered
// in `member.rs`, and known to `interactions/mod.rs` (the Sign button opens a form, so it is never
// deferred).
/// `/verify`.
pub const VERIFY: &str = "verify";
/// `/check-eligibility`.
pub const CHECK_ELIGIBILITY: &str = "check-eligibility";
/// The button under a challenge that opens the signature form.
pub const SIGN_BUTTON: &str = "verify:sign";
/// The signature form.
pub const SIGNATURE_MODAL: &str = "verify:signature";
/// The signature field of the form.
pub const SIGNATURE_FIELD: &str = "signature";

/// `/arrakis setup | resume | status | reconcile | sync | migrate | rollback | incumbent`, shown to members with Manage Server, and
/// the member commands `/verify` and `/check-eligibility`.
pub fn definitions(application_id: Id<ApplicationMarker>) -> anyhow::Result<Vec<Command>> {
    let sub = |name: &str, description: &str, options: serde_json::Value| json!({"type": 1, "name": name, "description": description, "options": options});
    let arrakis = json!({
        "application_id": application_id.to_string(),
        "type": 1,
        "name": ARRAKIS,
        "description": "Set up and run token-gated roles and channels",
        "default_member_permissions": MANAGE_GUILD.to_string(),
        "contexts": [0],
        "version": "1",
        "options": [
            sub("setup", "Start (or continue) the setup wizard", json!([])),
            sub("resume", "Continue an open setup where you left it", json!([])),
            sub("status", "What Arrakis runs for this server", json!([])),
            sub("reconcile", "Compare the server with its manifest now", json!([{
                "type": 3, "name": "mode", "description": "dry_run (report only, default) or apply (fix drift)",
                "required": false,
                "choices": [{"name": "dry run", "value": "dry_run"}, {"name": "apply", "value": "apply"}]
            }])),
            sub("sync", "Check every member's roles against their holdings now", json!([{
                "type": 3, "name": "mode", "description": "apply (grant and revoke, default) or dry_run (count only)",
                "required": false,
                "choices": [{"name": "apply", "value": "apply"}, {"name": "dry run", "value": "dry_run"}]
            }])),
            sub("migrate", "Move from your incumbent bot to Arrakis (readiness shown first)", json!([])),
            sub("rollback", "Undo the migration: remove what Arrakis added, restore the mode", json!([{
                "type": 3, "name": "reason", "description": "Why (kept in the audit log)", "required": true,
                "min_length": 1, "max_length": 500
            }])),
            sub("incumbent", "Say which bot gates this server (beats detection)", json!([{
                "type": 3, "name": "bot", "description": "The incumbent bot, or none", "required": true,
                "choices": [{"name": "Collab.Land", "value": "collabland"}, {"name": "Matrica", "value": "matrica"},
                            {"name": "Guild.xyz", "value": "guildxyz"}, {"name": "none", "value": "none"}]
            }])),
        ]
    });
    // Member commands: no default permission, so everyone in the server sees them.
    let verify = json!({
        "application_id": application_id.to_string(),
        "type": 1,
        "name": VERIFY,
        "description": "Link a wallet to your account by signing a message (free, no transaction)",
        "contexts": [0],
        "version": "1",
        "options": [{
            "type": 3, "name": "address", "description": "Your wallet's address (0x…)", "required": true,
            "min_length": 42, "max_length": 42
        }]
    });
    let check = json!({
        "application_id": application_id.to_string(),
        "type": 1,
        "name": CHECK_ELIGIBILITY,
        "description": "See which roles your linked wallets qualify you for",
        "contexts": [0],
        "version": "1",
        "options": []
    });
    [arrakis, verify, check].into_iter().map(|c| serde_json::from_value(c).context("command definition")).collect()
}

/// Registers the global commands (a bulk overwrite, so running it again changes nothing).
pub async fn register(http: &Client, application_id: Id<ApplicationMarker>) -> anyhow::Result<usize> {
    let commands = definitions(application_id)?;
    let registered = http
        .interaction(application_id)
        .set_global_commands(&commands)
        .await
        .context("registering application commands")?
        .models()
        .await
        .context("reading registered commands")?;
    Ok(registered.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_deserialize_into_twilight_commands() {
        let commands = definitions(Id::new(1)).expect("valid");
        assert_eq!(commands[0].name, ARRAKIS);
        assert_eq!(commands[0].options.len(), 8);
        let names: Vec<_> = commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["arrakis", "verify", "check-eligibility"]);
        assert!(commands[1].default_member_permissions.is_none(), "members may verify");
    }
}
