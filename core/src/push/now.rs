//! Pushes an administrator's change starts at once, for an orchestrator that is
//! connected now: its configuration, a new controller message, a message's new
//! status. Each is logged and fed to the activity feed; what fails here is
//! delivered again at the next handshake.

use moolai_proto::OrchestratorId;
use serde_json::{json, Value};

use crate::fleet::activity::{Feed, Kind};
use crate::fleet::live::{Connection, Live};
use crate::push::ordered::Pushes;

/// The handles a push made now needs.
pub struct Now<'a> {
    pub live: &'a Live,
    pub pushes: &'a Pushes,
    pub feed: &'a Feed,
}

/// Sends the stored configuration to a connected orchestrator; false if it could not.
pub async fn config(state: &Now<'_>, id: &OrchestratorId, conn: &Connection) -> bool {
    match state.pushes.config(id, conn, false).await {
        Ok(true) => {
            tracing::info!(orchestrator_id = %id, "Sent message to orchestrator {id} (type: provision_config)");
            state
                .feed
                .record(Kind::Provision, json!({"orchestrator_id": id}));
            true
        }
        // The connection has this revision or a newer one already.
        Ok(false) => true,
        Err(err) => {
            tracing::warn!(orchestrator_id = %id, %err, "provision_config not pushed");
            false
        }
    }
}

/// Sends a just-created message to its orchestrator if connected; otherwise (or if
/// this send is lost) it goes out at the next handshake, until acknowledged.
pub async fn message(state: &Now<'_>, id: &OrchestratorId, row: &Value) -> bool {
    let Some(conn) = state.live.connection(id) else {
        return false;
    };
    let data = json!({"id": row["id"], "message_type": row["message_type"], "content": row["content"],
        "metadata": row["message_metadata"], "status": row["status"], "revision": row["revision"]});
    match state.pushes.message(id, &conn, data).await {
        Ok(false) => false, // held: it became independent meanwhile
        Ok(true) => {
            state.feed.record(
                Kind::MessageSent,
                json!({"orchestrator_id": id, "message_id": row["id"]}),
            );
            true
        }
        Err(err) => {
            tracing::warn!(orchestrator_id = %id, %err, "message not delivered now; it will be at reconnect");
            false
        }
    }
}

/// Tells a connected orchestrator that one of its messages was accepted or dismissed.
pub async fn status(state: &Now<'_>, row: &Value) {
    let Some(id) = row["orchestrator_id"]
        .as_str()
        .and_then(|i| OrchestratorId::parse(i).ok())
    else {
        return;
    };
    let Some(conn) = state.live.connection(&id) else {
        return;
    };
    let (Some(message_id), Some(status)) = (row["id"].as_str(), row["status"].as_str()) else {
        return;
    };
    let revision = row["revision"].as_i64().unwrap_or_default();
    if let Err(err) = state
        .pushes
        .status(&id, &conn, message_id, status, revision)
        .await
    {
        tracing::warn!(orchestrator_id = %id, %err, "message_status not pushed");
    }
}
