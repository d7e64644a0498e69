//! Every route the stand-in serves, walked once with a valid request: the request and the
//! response are both checked against Discord's OpenAPI spec, independently of the stand-in's
//! own checks. Discord's own examples cannot be replayed here, so this is the contract test.

mod common;

use arrakis_sim::{Action, InjectInteraction, MemberSeed, MembersSeed, ROUTES, SimConfig, Spec};
use common::{TOKEN, guild, start};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn every_served_route_honours_the_spec_both_ways() {
    // The stand-in's own response check is off, so this test is the one that judges.
    let (sim, control) = start(SimConfig { check_responses: false, ..SimConfig::default() }).await;
    let spec = Spec::load();
    let app = SimConfig::default().application_id;
    let g = guild(&control, "Contract").await;
    let user = 800_000_000_000_000_001u64;
    control
        .seed_members(
            g,
            &MembersSeed { members: vec![MemberSeed { id: Some(user), ..Default::default() }], generate: None },
        )
        .await
        .expect("member");
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v10", sim.api_host());
    let mut walked = BTreeSet::new();

    let mut call = async |method: &str, template: &str, path: String, body: Option<Value>| -> Value {
        assert!(spec.has_operation(method, template), "{method} {template} is not in the spec");
        if let Some(body) = &body {
            spec.check_request(method, template, body)
                .unwrap_or_else(|v| panic!("{method} {template}: our example request breaks the spec: {v:?}"));
        }
        let mut request = http
            .request(method.to_uppercase().parse().expect("method"), format!("{base}{path}"))
            .header("authorization", format!("Bot {TOKEN}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!((200..300).contains(&status), "{method} {template} → {status}: {text}");
        assert!(
            spec.success_statuses(method, template).contains(&status),
            "{method} {template}: {status} is not a documented success status"
        );
        let value: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON response") };
        if !value.is_null() {
            spec.check_response(method, template, status, &value)
                .unwrap_or_else(|v| panic!("{method} {template}: response breaks the spec: {v:?}\n{value}"));
        }
        walked.insert((method.to_string(), template.to_string()));
        value
    };

    call("get", "/gateway/bot", "/gateway/bot".into(), None).await;
    call("get", "/users/@me", "/users/@me".into(), None).await;
    let cmd = json!({"name": "arrakis", "description": "Arrakis", "type": 1, "options": [{"type": 1, "name": "setup", "description": "Set up"}]});
    call("put", "/applications/{application_id}/commands", format!("/applications/{app}/commands"), Some(json!([cmd])))
        .await;
    call(
        "post",
        "/applications/{application_id}/commands",
        format!("/applications/{app}/commands"),
        Some(json!({"name": "verify", "description": "Link a wallet"})),
    )
    .await;
    call("get", "/applications/{application_id}/commands", format!("/applications/{app}/commands"), None).await;
    call(
        "put",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        format!("/applications/{app}/guilds/{g}/commands"),
        Some(json!([cmd])),
    )
    .await;
    call(
        "post",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        format!("/applications/{app}/guilds/{g}/commands"),
        Some(json!({"name": "status", "description": "Status"})),
    )
    .await;
    call(
        "get",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        format!("/applications/{app}/guilds/{g}/commands"),
        None,
    )
    .await;
    call("get", "/guilds/{guild_id}", format!("/guilds/{g}"), None).await;

    let role = call(
        "post",
        "/guilds/{guild_id}/roles",
        format!("/guilds/{g}/roles"),
        Some(json!({"name": "naib", "color": 16766720, "hoist": true, "permissions": "0"})),
    )
    .await;
    let r = role["id"].as_str().expect("role id").to_string();
    call("get", "/guilds/{guild_id}/roles", format!("/guilds/{g}/roles"), None).await;
    call("patch", "/guilds/{guild_id}/roles", format!("/guilds/{g}/roles"), Some(json!([{"id": r, "position": 1}])))
        .await;
    call("get", "/guilds/{guild_id}/roles/{role_id}", format!("/guilds/{g}/roles/{r}"), None).await;
    call(
        "patch",
        "/guilds/{guild_id}/roles/{role_id}",
        format!("/guilds/{g}/roles/{r}"),
        Some(json!({"name": "Naib"})),
    )
    .await;

    let category = call(
        "post",
        "/guilds/{guild_id}/channels",
        format!("/guilds/{g}/channels"),
        Some(json!({"name": "Council", "type": 4})),
    )
    .await;
    let cat = category["id"].as_str().expect("id").to_string();
    let channel = call(
        "post",
        "/guilds/{guild_id}/channels",
        format!("/guilds/{g}/channels"),
        Some(json!({"name": "council", "type": 0, "parent_id": cat, "topic": "t", "permission_overwrites": [{"id": r, "type": 0, "allow": "0", "deny": "0"}]})),
    )
    .await;
    let c = channel["id"].as_str().expect("id").to_string();
    call("get", "/guilds/{guild_id}/channels", format!("/guilds/{g}/channels"), None).await;
    call(
        "patch",
        "/guilds/{guild_id}/channels",
        format!("/guilds/{g}/channels"),
        Some(json!([{"id": c, "position": 3}])),
    )
    .await;
    call("get", "/channels/{channel_id}", format!("/channels/{c}"), None).await;
    call("patch", "/channels/{channel_id}", format!("/channels/{c}"), Some(json!({"name": "council-chat"}))).await;
    call(
        "put",
        "/channels/{channel_id}/permissions/{overwrite_id}",
        format!("/channels/{c}/permissions/{r}"),
        Some(json!({"type": 0, "allow": "0", "deny": "0"})),
    )
    .await;
    call("delete", "/channels/{channel_id}/permissions/{overwrite_id}", format!("/channels/{c}/permissions/{r}"), None)
        .await;
    let message = call(
        "post",
        "/channels/{channel_id}/messages",
        format!("/channels/{c}/messages"),
        Some(json!({"content": "drift report"})),
    )
    .await;
    let m = message["id"].as_str().expect("message id").to_string();
    call(
        "patch",
        "/channels/{channel_id}/messages/{message_id}",
        format!("/channels/{c}/messages/{m}"),
        Some(json!({"content": "drift report (edited)"})),
    )
    .await;
    call("get", "/channels/{channel_id}/messages", format!("/channels/{c}/messages"), None).await;

    call("get", "/guilds/{guild_id}/members", format!("/guilds/{g}/members?limit=1000&after=0"), None).await;
    call("get", "/guilds/{guild_id}/members/{user_id}", format!("/guilds/{g}/members/{user}"), None).await;
    call(
        "put",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        format!("/guilds/{g}/members/{user}/roles/{r}"),
        None,
    )
    .await;
    call(
        "delete",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        format!("/guilds/{g}/members/{user}/roles/{r}"),
        None,
    )
    .await;
    call(
        "get",
        "/guilds/{guild_id}/audit-logs",
        format!("/guilds/{g}/audit-logs?action_type=25&limit=10&target_id={user}"),
        None,
    )
    .await;
    call(
        "patch",
        "/guilds/{guild_id}/members/{user_id}",
        format!("/guilds/{g}/members/{user}"),
        Some(json!({"roles": [r]})),
    )
    .await;

    let (id, token) = control
        .inject(&InjectInteraction {
            message_content: None,
            guild_id: Some(g),
            channel_id: Some(c.parse().expect("id")),
            user_id: Some(user),
            member_permissions: None,
            action: Action::SlashCommand { name: "arrakis".into(), subcommand: Some("status".into()), options: vec![] },
        })
        .await
        .expect("inject");
    call(
        "post",
        "/interactions/{interaction_id}/{interaction_token}/callback",
        format!("/interactions/{id}/{token}/callback"),
        Some(json!({"type": 4, "data": {"content": "Mode: shadow", "flags": 64}})),
    )
    .await;
    call(
        "get",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        format!("/webhooks/{app}/{token}/messages/@original"),
        None,
    )
    .await;
    call(
        "patch",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        format!("/webhooks/{app}/{token}/messages/@original"),
        Some(json!({"content": "Mode: shadow (edited)"})),
    )
    .await;
    call(
        "post",
        "/webhooks/{webhook_id}/{webhook_token}",
        format!("/webhooks/{app}/{token}?wait=true"),
        Some(json!({"content": "follow-up"})),
    )
    .await;
    call(
        "delete",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        format!("/webhooks/{app}/{token}/messages/@original"),
        None,
    )
    .await;

    call("delete", "/channels/{channel_id}", format!("/channels/{c}"), None).await;
    call("delete", "/guilds/{guild_id}/roles/{role_id}", format!("/guilds/{g}/roles/{r}"), None).await;

    let served: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, t)| (m.to_string(), t.to_string())).collect();
    let missing: Vec<_> = served.difference(&walked).collect();
    assert!(missing.is_empty(), "routes served but not walked: {missing:?}");
}
