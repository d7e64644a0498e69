//! The gateway's hub: the sessions of the connected shards and the events fanned out to them.
//! The sim's state owns it; the websocket server (`gateway`) reads and writes through it, so
//! the state never depends on the server.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Instant,
};
use tokio::sync::broadcast;

pub(crate) const GUILDS: u64 = 1;
pub(crate) const GUILD_MEMBERS: u64 = 1 << 1;
pub(crate) const PRIVILEGED: u64 = GUILD_MEMBERS | (1 << 8) | (1 << 15);
pub(crate) const KNOWN_INTENTS: u64 = (1 << 26) - 1;
/// Discord closes a connection that sends more than 120 events in 60 s.
pub(crate) const SEND_LIMIT: usize = 120;
/// Dispatches kept per session for RESUME.
const RESUME_BUFFER: usize = 10_000;

/// One event for the shards.
#[derive(Clone, Debug)]
pub struct Dispatch {
    /// The guild it concerns (decides the shard), if any.
    pub guild_id: Option<u64>,
    /// Event name, e.g. `GUILD_ROLE_CREATE`.
    pub event: &'static str,
    /// The payload.
    pub data: Value,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Control {
    Drop,
    Reconnect,
}

pub(crate) struct SessionRecord {
    pub(crate) shard: (u64, u64),
    pub(crate) intents: u64,
    pub(crate) seq: u64,
    pub(crate) buffer: VecDeque<(u64, String)>,
    pub(crate) connected: bool,
    /// The connection that holds the session; an older connection closing late (after the
    /// client resumed elsewhere) must not mark the session disconnected.
    pub(crate) owner: u64,
}

impl SessionRecord {
    /// Numbers the event, keeps it for RESUME, and returns the frame to send.
    pub(crate) fn push(&mut self, event: &str, data: &Value) -> String {
        self.seq += 1;
        let text = json!({"op": 0, "s": self.seq, "t": event, "d": data}).to_string();
        self.buffer.push_back((self.seq, text.clone()));
        if self.buffer.len() > RESUME_BUFFER {
            self.buffer.pop_front();
        }
        text
    }
}

/// Whether a session of `shard` with `intents` receives `dispatch`.
pub(crate) fn wants(shard: (u64, u64), intents: u64, d: &Dispatch) -> bool {
    let shard_ok = d.guild_id.is_none_or(|g| (g >> 22) % shard.1.max(1) == shard.0);
    let intent = match d.event {
        "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" | "GUILD_MEMBERS_CHUNK" => GUILD_MEMBERS,
        "INTERACTION_CREATE" | "RATE_LIMITED" => 0,
        _ => GUILDS,
    };
    shard_ok && (intent == 0 || intents & intent != 0)
}

/// A connected shard, as the control API reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardState {
    /// Session id.
    pub session_id: String,
    /// `[id, count]`.
    pub shard: [u64; 2],
    /// Intents it identified with.
    pub intents: u64,
    /// Last sequence number sent.
    pub seq: u64,
}

/// Fans events out to every connected shard.
pub struct GatewayHub {
    pub(crate) events: broadcast::Sender<Arc<Dispatch>>,
    pub(crate) control: broadcast::Sender<Control>,
    pub(crate) sessions: Mutex<HashMap<String, SessionRecord>>,
    pub(crate) member_requests: Mutex<HashMap<u64, Instant>>,
}

impl Default for GatewayHub {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayHub {
    /// A hub with no connections.
    pub fn new() -> Self {
        Self {
            events: broadcast::channel(65_536).0,
            control: broadcast::channel(16).0,
            sessions: Mutex::new(HashMap::new()),
            member_requests: Mutex::new(HashMap::new()),
        }
    }

    /// Sends an event to the shard that owns `guild_id` (every shard when `None`). Sessions
    /// that are disconnected keep it in their buffer, so a RESUME replays it. The sessions
    /// lock is held while sending, which orders this against a connection's teardown.
    pub fn dispatch(&self, guild_id: Option<u64>, event: &'static str, data: Value) {
        let dispatch = Arc::new(Dispatch { guild_id, event, data });
        let mut sessions = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for record in sessions.values_mut().filter(|r| !r.connected && wants(r.shard, r.intents, &dispatch)) {
            record.push(dispatch.event, &dispatch.data);
        }
        let _ = self.events.send(dispatch);
    }

    /// Drops every connection without a close frame, as a network failure would.
    pub fn drop_connections(&self) {
        let _ = self.control.send(Control::Drop);
    }

    /// Asks every shard to reconnect (op 7), as Discord does before maintenance.
    pub fn request_reconnect(&self) {
        let _ = self.control.send(Control::Reconnect);
    }

    /// Shards connected now.
    pub fn shards(&self) -> Vec<ShardState> {
        let sessions = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<ShardState> = sessions
            .iter()
            .filter(|(_, s)| s.connected)
            .map(|(id, s)| ShardState {
                session_id: id.clone(),
                shard: [s.shard.0, s.shard.1],
                intents: s.intents,
                seq: s.seq,
            })
            .collect();
        out.sort_by_key(|s| s.shard);
        out
    }

    /// Forgets every session (control-API reset).
    pub fn reset(&self) {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.member_requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.drop_connections();
    }
}
