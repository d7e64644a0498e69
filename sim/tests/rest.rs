//! twilight-http against the stand-in: what Discord accepts succeeds, what Discord rejects is
//! rejected with Discord's codes.

mod common;

use arrakis_sim::{ChannelSeed, GuildSeed, MemberSeed, MembersSeed, RoleSeed, SimConfig, permissions};
use common::{TOKEN, guild, http, start_default};
use serde_json::{Value, json};
use twilight_http::{api_error::ApiError, error::ErrorType, request::AuditLogReason};
use twilight_model::{
    channel::{
        ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::Permissions,
    id::Id,
};

fn discord_code(error: &twilight_http::Error) -> Option<(u16, u64)> {
    match error.kind() {
        ErrorType::Response { error: ApiError::General(general), status, .. } => Some((status.get(), general.code)),
        _ => None,
    }
}

#[tokio::test]
async fn twilight_rest_calls_succeed_and_change_the_guild() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Sietch").await;
    let member = 500_000_000_000_000_001;
    control
        .seed_members(
            guild_id,
            &MembersSeed { members: vec![MemberSeed { id: Some(member), ..MemberSeed::default() }], generate: None },
        )
        .await
        .expect("member");
    let client = http(&sim, TOKEN);
    let gid = Id::new(guild_id);

    let me = client.current_user().await.expect("current user").model().await.expect("user model");
    assert!(me.bot);
    let gateway = client.gateway().authed().await.expect("gateway/bot").model().await.expect("model");
    assert!(gateway.url.starts_with("ws://127.0.0.1"));
    let g = client.guild(gid).await.expect("guild").model().await.expect("guild model");
    assert_eq!(g.name, "Sietch");

    let role = client
        .create_role(gid)
        .name("Fedaykin")
        .color(0xFF_AA00)
        .hoist(true)
        .await
        .expect("create role")
        .model()
        .await
        .expect("role");
    let role = client
        .update_role(gid, role.id)
        .name(Some("Fedaykin Elite"))
        .await
        .expect("update")
        .model()
        .await
        .expect("role");
    assert_eq!(role.name, "Fedaykin Elite");
    let roles = client.roles(gid).await.expect("roles").models().await.expect("models");
    assert!(roles.iter().any(|r| r.id == role.id));

    let category = client
        .create_guild_channel(gid, "Council")
        .kind(ChannelType::GuildCategory)
        .await
        .expect("category")
        .model()
        .await
        .expect("model");
    let overwrite = PermissionOverwrite {
        id: role.id.cast(),
        kind: PermissionOverwriteType::Role,
        allow: Permissions::empty(),
        deny: Permissions::empty(),
    };
    let everyone_hidden = PermissionOverwrite {
        id: gid.cast(),
        kind: PermissionOverwriteType::Role,
        allow: Permissions::empty(),
        deny: Permissions::empty(),
    };
    let channel = client
        .create_guild_channel(gid, "council-chat")
        .kind(ChannelType::GuildText)
        .parent_id(category.id)
        .topic("Naibs only")
        .permission_overwrites(&[overwrite, everyone_hidden])
        .await
        .expect("channel")
        .model()
        .await
        .expect("model");
    assert_eq!(channel.parent_id, Some(category.id));
    let channel =
        client.update_channel(channel.id).name("council").await.expect("rename").model().await.expect("model");
    assert_eq!(channel.name.as_deref(), Some("council"));
    assert_eq!(client.guild_channels(gid).await.expect("channels").models().await.expect("models").len(), 2);

    let message =
        client.create_message(channel.id).content("drift found").await.expect("message").model().await.expect("model");
    assert_eq!(message.content, "drift found");
    let interaction = client.interaction(Id::new(arrakis_sim::SimConfig::default().application_id));
    let command = interaction
        .create_guild_command(gid)
        .chat_input("arrakis", "Token-gated community setup")
        .await
        .expect("command")
        .model()
        .await
        .expect("model");
    assert_eq!(command.name, "arrakis");
    let listed = interaction.guild_commands(gid).await.expect("commands").models().await.expect("models");
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![command.id],
        "creating twice by name overwrites, as Discord does"
    );

    client.add_guild_member_role(gid, Id::new(member), role.id).await.expect("grant");
    let m = client.guild_member(gid, Id::new(member)).await.expect("member").model().await.expect("model");
    assert_eq!(m.roles, vec![role.id]);
    client.remove_guild_member_role(gid, Id::new(member), role.id).await.expect("revoke");
    client.delete_channel(channel.id).await.expect("delete channel");
    client.delete_role(gid, role.id).await.expect("delete role");

    let state = control.guild(guild_id).await.expect("state");
    assert_eq!(state.channels.len(), 1, "only the category is left");
    let log = control.log(0).await.expect("log");
    assert!(log.iter().any(|e| e.route == "/guilds/{guild_id}/roles" && e.method == "POST" && e.status == 200));
    let counters = control.counters().await.expect("counters");
    assert!(counters.contract_violations.is_empty(), "{:?}", counters.contract_violations);
}

#[tokio::test]
async fn a_malformed_body_gets_invalid_form_body() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Sietch").await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/v10/guilds/{guild_id}/roles", sim.api_host()))
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&json!({"name": "x".repeat(101), "color": "gold"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], 50035);
    assert_eq!(body["message"], "Invalid Form Body");
    assert_eq!(body["errors"]["name"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    assert!(body["errors"]["color"]["_errors"].is_array(), "{body}");
    assert!(control.guild(guild_id).await.expect("state").roles.len() == 2, "nothing was created");
}

#[tokio::test]
async fn the_role_hierarchy_and_missing_permissions_get_50013() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Sietch").await;
    let member = 500_000_000_000_000_002;
    control
        .seed_members(
            guild_id,
            &MembersSeed { members: vec![MemberSeed { id: Some(member), ..MemberSeed::default() }], generate: None },
        )
        .await
        .expect("member");
    let above = control
        .seed_roles(guild_id, &[RoleSeed { name: "Incumbent".into(), position: 20, ..RoleSeed::default() }])
        .await
        .expect("role")[0];
    let client = http(&sim, TOKEN);
    let err = client
        .add_guild_member_role(Id::new(guild_id), Id::new(member), Id::new(above))
        .await
        .expect_err("above the bot");
    assert_eq!(discord_code(&err), Some((403, 50013)));
    let err =
        client.update_role(Id::new(guild_id), Id::new(above)).name(Some("mine")).await.expect_err("above the bot");
    assert_eq!(discord_code(&err), Some((403, 50013)));

    let powerless = control
        .create_guild(&GuildSeed { name: "No perms".into(), bot_permissions: Some(0), ..GuildSeed::default() })
        .await
        .expect("guild");
    let err = client.create_role(Id::new(powerless)).name("x").await.expect_err("no MANAGE_ROLES");
    assert_eq!(discord_code(&err), Some((403, 50013)));
    let err = client.create_guild_channel(Id::new(powerless), "x").await.expect_err("no MANAGE_CHANNELS");
    assert_eq!(discord_code(&err), Some((403, 50013)));
    let admin_bits = permissions::ADMINISTRATOR;
    let err = client
        .create_role(Id::new(guild_id))
        .name("x")
        .permissions(Permissions::from_bits_truncate(admin_bits))
        .await
        .expect_err("cannot grant what it lacks");
    assert_eq!(discord_code(&err), Some((403, 50013)));
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let (sim, _control) = start_default().await;
    let client = http(&sim, "not-the-token");
    let err = client.current_user().await.expect_err("401");
    assert_eq!(discord_code(&err), Some((401, 0)), "Discord's 401 body");
    // twilight remembers an invalid token and refuses to send more requests with it.
    let err = client.current_user().await.expect_err("remembered");
    assert!(matches!(err.kind(), ErrorType::Unauthorized), "{err:?}");
}

#[tokio::test]
async fn guild_limits_get_30005_and_30013() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Full").await;
    let roles: Vec<RoleSeed> =
        (0..248).map(|i| RoleSeed { name: format!("r{i}"), position: 1, ..RoleSeed::default() }).collect();
    control.seed_roles(guild_id, &roles).await.expect("248 roles (+2 = 250)");
    let channels: Vec<ChannelSeed> =
        (0..500).map(|i| ChannelSeed { name: format!("c{i}"), ..ChannelSeed::default() }).collect();
    control.seed_channels(guild_id, &channels).await.expect("500 channels");
    let client = http(&sim, TOKEN);
    let err = client.create_role(Id::new(guild_id)).name("one too many").await.expect_err("251st role");
    assert_eq!(discord_code(&err), Some((400, 30005)));
    let err = client.create_guild_channel(Id::new(guild_id), "one-too-many").await.expect_err("501st channel");
    assert_eq!(discord_code(&err), Some((400, 30013)));
    let _ = SimConfig::default();
}

#[tokio::test]
async fn the_audit_log_records_who_changed_a_members_roles() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Logged").await;
    let incumbent = 704_521_096_837_464_076;
    let member = 500_000_000_000_000_009;
    let roles = control
        .seed_roles(
            guild_id,
            &[
                RoleSeed { name: "Holder".into(), ..RoleSeed::default() },
                RoleSeed { name: "Ours".into(), ..RoleSeed::default() },
            ],
        )
        .await
        .expect("roles");
    let seed = |id: u64, bot: bool| MemberSeed { id: Some(id), bot, ..MemberSeed::default() };
    control
        .seed_members(
            guild_id,
            &MembersSeed { members: vec![seed(member, false), seed(incumbent, true)], generate: None },
        )
        .await
        .expect("members");
    control.set_member_roles_as(guild_id, member, &[roles[0]], incumbent, None).await.expect("the incumbent grants");
    let client = http(&sim, TOKEN);
    let (gid, uid) = (Id::new(guild_id), Id::new(member));
    client
        .add_guild_member_role(gid, uid, Id::new(roles[1]))
        .reason("manifest v1, grant Ours")
        .await
        .expect("the bot grants");

    let log = client.audit_log(gid).user_id(Id::new(incumbent)).await.expect("audit log").model().await.expect("model");
    assert_eq!(log.entries.len(), 1, "{log:?}");
    let entry = &log.entries[0];
    assert_eq!(entry.action_type, twilight_model::guild::audit_log::AuditLogEventType::MemberRoleUpdate);
    assert_eq!(entry.target_id.map(|t| t.get()), Some(member));
    assert_eq!(log.users.iter().map(|u| u.id.get()).collect::<Vec<_>>(), [incumbent]);
    // The bot's own change is logged under the bot, with its reason; newest first.
    let bot = Id::new(SimConfig::default().application_id);
    let mine = client.audit_log(gid).user_id(bot).await.expect("log").model().await.expect("model");
    assert_eq!(mine.entries.len(), 1);
    assert_eq!(mine.entries[0].reason.as_deref(), Some("manifest v1, grant Ours"));
    let all = client.audit_log(gid).limit(1).await.expect("log").model().await.expect("model");
    assert_eq!(all.entries.iter().map(|e| e.user_id).collect::<Vec<_>>(), [Some(bot)]);
    let counters = control.counters().await.expect("counters");
    assert!(counters.contract_violations.is_empty(), "{:?}", counters.contract_violations);

    let blind = control
        .create_guild(&GuildSeed {
            name: "No audit".into(),
            bot_permissions: Some(permissions::MANAGE_ROLES),
            ..GuildSeed::default()
        })
        .await
        .expect("guild");
    let err = client.audit_log(Id::new(blind)).await.expect_err("View Audit Log is needed");
    assert_eq!(discord_code(&err), Some((403, 50013)));
}
