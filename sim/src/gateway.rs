//! Discord's gateway v10 (JSON, no transport compression): HELLO, IDENTIFY with its token,
//! intent and shard checks, READY pointing `resume_gateway_url` back here, GUILD_CREATE for the
//! shard's guilds (`(guild_id >> 22) % num_shards`), heartbeats, RESUME with replay, RECONNECT,
//! INVALID_SESSION, dispatches, and REQUEST_GUILD_MEMBERS answered in chunks of 1,000.

use crate::{
    hub::{Control, Dispatch, GUILD_MEMBERS, GUILDS, KNOWN_INTENTS, PRIVILEGED, SEND_LIMIT, SessionRecord, wants},
    state::Sim,
    world,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::broadcast,
};
use tokio_websockets::{CloseCode, Message, ServerBuilder, WebSocketStream};

/// Accepts gateway connections until the listener fails.
pub async fn serve(sim: Arc<Sim>, listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let sim = sim.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(sim, stream).await {
                tracing::debug!("gateway connection ended: {e}");
            }
        });
    }
}

fn op(op: u8, d: Value) -> Message {
    Message::text(json!({"op": op, "d": d, "s": null, "t": null}).to_string())
}

async fn close(ws: &mut WebSocketStream<TcpStream>, code: u16, reason: &str) -> anyhow::Result<()> {
    let code = CloseCode::try_from(code).map_err(|_| anyhow::anyhow!("bad close code"))?;
    ws.send(Message::close(Some(code), reason)).await?;
    Ok(())
}

struct Conn {
    id: u64,
    session: Option<String>,
    shard: (u64, u64),
    intents: u64,
    sent: VecDeque<Instant>,
    /// Dispatches since this connection's session began: re-subscribed at IDENTIFY, and at a
    /// RESUME after a drop, so nothing the READY snapshot or the replay holds is sent twice.
    events: broadcast::Receiver<Arc<Dispatch>>,
    /// Guilds sent in the GUILD_CREATEs that followed READY and not yet seen again.
    announced: HashSet<u64>,
}

impl Conn {
    fn wants(&self, d: &Dispatch) -> bool {
        wants(self.shard, self.intents, d)
    }

    /// A guild created while this shard identified is both in the READY snapshot and in the
    /// broadcast of its creation; Discord announces a joined guild once, so the second goes.
    fn already_announced(&mut self, d: &Dispatch) -> bool {
        d.event == "GUILD_CREATE" && d.guild_id.is_some_and(|g| self.announced.remove(&g))
    }
}

async fn connection(sim: Arc<Sim>, stream: TcpStream) -> anyhow::Result<()> {
    let (request, mut ws) = ServerBuilder::new().accept(stream).await?;
    let query = request.uri().query().unwrap_or_default().to_string();
    if query.split('&').any(|p| p.starts_with("compress=")) {
        // Only plain JSON is offered: Arrakis builds twilight without zlib/zstd.
        close(&mut ws, 4000, "Transport compression is not supported here.").await?;
        return Ok(());
    }
    if query.split('&').any(|p| p.starts_with("encoding=") && p != "encoding=json") {
        close(&mut ws, 4002, "Decode error: only JSON is supported.").await?;
        return Ok(());
    }
    let config = sim.config();
    let mut control = sim.gateway.control.subscribe();
    let mut conn = Conn {
        id: sim.next_id(),
        session: None,
        shard: (0, 1),
        intents: 0,
        sent: VecDeque::new(),
        events: sim.gateway.events.subscribe(),
        announced: HashSet::new(),
    };
    ws.send(op(10, json!({"heartbeat_interval": config.heartbeat_interval_ms}))).await?;

    let result = loop {
        tokio::select! {
            incoming = ws.next() => {
                let Some(Ok(message)) = incoming else { break Ok(()) };
                if message.is_close() { break Ok(()) }
                let Some(text) = message.as_text() else { continue };
                let Ok(payload) = serde_json::from_str::<Value>(text) else {
                    close(&mut ws, 4002, "Decode error.").await?;
                    break Ok(());
                };
                match handle(&sim, &mut ws, &mut conn, &payload).await? {
                    Flow::Continue => {}
                    Flow::Stop => break Ok(()),
                }
                if conn.session.is_some() && over_send_limit(&mut conn) {
                    close(&mut ws, 4008, "Rate limited.").await?;
                    break Ok(());
                }
            }
            event = conn.events.recv(), if conn.session.is_some() => {
                match event {
                    Ok(d) if conn.wants(&d) && !conn.already_announced(&d) => {
                        send_dispatch(&sim, &mut ws, &conn, d.event, &d.data).await?
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        close(&mut ws, 4000, "Unknown error: the session fell behind.").await?;
                        break Ok(());
                    }
                    Err(_) => break Ok(()),
                }
            }
            signal = control.recv() => {
                match signal {
                    Ok(Control::Drop) => break Ok(()),
                    Ok(Control::Reconnect) => { ws.send(op(7, Value::Null)).await?; }
                    Err(_) => {}
                }
            }
        }
    };
    if let Some(id) = &conn.session {
        // Events already queued for this connection go to the resume buffer, under the lock
        // `dispatch` holds while sending, so none falls between the two.
        let mut sessions = sim.gateway.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(record) = sessions.get_mut(id).filter(|r| r.owner == conn.id) {
            while let Ok(d) = conn.events.try_recv() {
                if conn.wants(&d) {
                    record.push(d.event, &d.data);
                }
            }
            record.connected = false;
        }
    }
    result
}

fn over_send_limit(conn: &mut Conn) -> bool {
    let now = Instant::now();
    while conn.sent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
        conn.sent.pop_front();
    }
    conn.sent.push_back(now);
    conn.sent.len() > SEND_LIMIT
}

enum Flow {
    Continue,
    Stop,
}

async fn send_dispatch(
    sim: &Sim,
    ws: &mut WebSocketStream<TcpStream>,
    conn: &Conn,
    event: &str,
    data: &Value,
) -> anyhow::Result<()> {
    let Some(id) = &conn.session else { return Ok(()) };
    let text = {
        let mut sessions = sim.gateway.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(record) = sessions.get_mut(id) else { return Ok(()) };
        record.push(event, data)
    };
    ws.send(Message::text(text)).await?;
    Ok(())
}

async fn handle(
    sim: &Arc<Sim>,
    ws: &mut WebSocketStream<TcpStream>,
    conn: &mut Conn,
    payload: &Value,
) -> anyhow::Result<Flow> {
    let config = sim.config();
    match payload.get("op").and_then(Value::as_u64) {
        Some(1) => {
            ws.send(op(11, Value::Null)).await?;
        }
        Some(2) => {
            if conn.session.is_some() {
                close(ws, 4005, "Already authenticated.").await?;
                return Ok(Flow::Stop);
            }
            let d = &payload["d"];
            let token = d.get("token").and_then(Value::as_str).unwrap_or_default();
            if token.strip_prefix("Bot ").unwrap_or(token) != config.token {
                close(ws, 4004, "Authentication failed.").await?;
                return Ok(Flow::Stop);
            }
            let intents = d.get("intents").and_then(Value::as_u64).unwrap_or(0);
            if intents & !KNOWN_INTENTS != 0 {
                close(ws, 4013, "Invalid intent(s).").await?;
                return Ok(Flow::Stop);
            }
            if intents & PRIVILEGED != 0 && !config.privileged_intents {
                close(ws, 4014, "Disallowed intent(s).").await?;
                return Ok(Flow::Stop);
            }
            let shard = d
                .get("shard")
                .and_then(Value::as_array)
                .map(|s| (s.first().and_then(Value::as_u64), s.get(1).and_then(Value::as_u64)));
            let shard = match shard {
                None => (0, 1),
                Some((Some(id), Some(count))) if count >= 1 && id < count => (id, count),
                Some(_) => {
                    close(ws, 4010, "Invalid shard.").await?;
                    return Ok(Flow::Stop);
                }
            };
            let session_id = format!("{:032x}", sim.next_id() as u128 * 0x9E37_79B9);
            {
                let mut sessions = sim.gateway.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                sessions.insert(
                    session_id.clone(),
                    SessionRecord { shard, intents, seq: 0, buffer: VecDeque::new(), connected: true, owner: conn.id },
                );
                conn.events = sim.gateway.events.subscribe();
            }
            conn.session = Some(session_id.clone());
            conn.shard = shard;
            conn.intents = intents;
            let guilds: Vec<world::Guild> =
                sim.world().guilds.values().filter(|g| (g.id >> 22) % shard.1 == shard.0).cloned().collect();
            let resume_url = sim.gateway_url.read().map(|u| u.clone()).unwrap_or_default();
            let mut user = world::user_json(config.application_id, &config.bot_name, true);
            user["mfa_enabled"] = json!(false);
            user["verified"] = json!(true);
            let ready = json!({
                "v": 10,
                "user": user,
                "guilds": guilds.iter().map(|g| json!({"id": g.id.to_string(), "unavailable": true})).collect::<Vec<_>>(),
                "session_id": session_id,
                "resume_gateway_url": resume_url,
                "shard": [shard.0, shard.1],
                "application": {"id": config.application_id.to_string(), "flags": 0},
                "session_type": "normal"
            });
            send_dispatch(sim, ws, conn, "READY", &ready).await?;
            if intents & GUILDS != 0 {
                conn.announced = guilds.iter().map(|g| g.id).collect();
                for guild in &guilds {
                    send_dispatch(
                        sim,
                        ws,
                        conn,
                        "GUILD_CREATE",
                        &world::guild_create_json(guild, config.application_id),
                    )
                    .await?;
                }
            }
        }
        Some(6) => {
            let d = &payload["d"];
            let token = d.get("token").and_then(Value::as_str).unwrap_or_default();
            let session_id = d.get("session_id").and_then(Value::as_str).unwrap_or_default().to_string();
            let after = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let replay = {
                let mut sessions = sim.gateway.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match sessions.get_mut(&session_id) {
                    Some(record) if token.strip_prefix("Bot ").unwrap_or(token) == config.token => {
                        if !record.connected {
                            // Dispatches since the drop are in the buffer replayed below; a
                            // fresh receiver keeps them from being sent a second time. (While
                            // the old connection still holds the session nothing is buffered,
                            // and this connection's own receiver has them.)
                            conn.events = sim.gateway.events.subscribe();
                        }
                        record.connected = true;
                        record.owner = conn.id;
                        conn.shard = record.shard;
                        conn.intents = record.intents;
                        Some(
                            record
                                .buffer
                                .iter()
                                .filter(|(s, _)| *s > after)
                                .map(|(_, t)| t.clone())
                                .collect::<Vec<_>>(),
                        )
                    }
                    _ => None,
                }
            };
            match replay {
                Some(events) => {
                    conn.session = Some(session_id);
                    for text in events {
                        ws.send(Message::text(text)).await?;
                    }
                    send_dispatch(sim, ws, conn, "RESUMED", &json!({})).await?;
                }
                None => {
                    ws.send(op(9, json!(false))).await?;
                }
            }
        }
        Some(8) => request_members(sim, ws, conn, &payload["d"]).await?,
        _ => {}
    }
    Ok(Flow::Continue)
}

async fn request_members(
    sim: &Arc<Sim>,
    ws: &mut WebSocketStream<TcpStream>,
    conn: &Conn,
    d: &Value,
) -> anyhow::Result<()> {
    if conn.session.is_none() || conn.intents & GUILD_MEMBERS == 0 {
        return Ok(());
    }
    let Some(guild_id) = d.get("guild_id").and_then(world::id_of) else { return Ok(()) };
    let nonce = d.get("nonce").cloned().unwrap_or(Value::Null);
    let everyone =
        d.get("query").and_then(Value::as_str) == Some("") && d.get("limit").and_then(Value::as_u64) == Some(0);
    if everyone {
        let now = Instant::now();
        let wait = {
            let mut requests = sim.gateway.member_requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match requests.get(&guild_id) {
                Some(at) if now.duration_since(*at) < Duration::from_secs(30) => {
                    Some(30.0 - now.duration_since(*at).as_secs_f64())
                }
                _ => {
                    requests.insert(guild_id, now);
                    None
                }
            }
        };
        if let Some(retry_after) = wait {
            let limited = json!({"opcode": 8, "retry_after": retry_after, "meta": {"guild_id": guild_id.to_string(), "nonce": nonce}});
            return send_dispatch(sim, ws, conn, "RATE_LIMITED", &limited).await;
        }
    }
    let user_ids: Option<Vec<u64>> = d.get("user_ids").map(|v| match v {
        Value::Array(ids) => ids.iter().filter_map(world::id_of).collect(),
        other => world::id_of(other).into_iter().collect(),
    });
    let prefix = d.get("query").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let limit = d.get("limit").and_then(Value::as_u64).unwrap_or(0);
    let members: Vec<Value> = {
        let world = sim.world();
        let Some(guild) = world.guilds.get(&guild_id) else { return Ok(()) };
        let max = if everyone { usize::MAX } else { limit.clamp(1, 100) as usize };
        guild
            .members
            .values()
            .filter(|m| user_ids.as_ref().is_none_or(|ids| ids.contains(&m.user_id)))
            .filter(|m| everyone || user_ids.is_some() || m.username.to_lowercase().starts_with(&prefix))
            .take(max)
            .map(world::member_json)
            .collect()
    };
    let chunks: Vec<&[Value]> = if members.is_empty() { vec![&[]] } else { members.chunks(1000).collect() };
    let count = chunks.len();
    for (index, chunk) in chunks.into_iter().enumerate() {
        let payload = json!({
            "guild_id": guild_id.to_string(), "members": chunk, "chunk_index": index, "chunk_count": count, "nonce": nonce
        });
        send_dispatch(sim, ws, conn, "GUILD_MEMBERS_CHUNK", &payload).await?;
    }
    Ok(())
}
