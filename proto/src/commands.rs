//! Writes core asks the persister to make: request/reply on
//! `{p}.persist.commands`, answered only after the transaction commits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::frames::MessageType;
use crate::id::OrchestratorId;

/// A registration from `POST /api/v1/internal/orchestrators/register` (new rows are
/// `inactive` until the orchestrator connects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub orchestrator_id: OrchestratorId,
    pub organization_id: OrchestratorId,
    /// `None`: keep the stored name (a new organization is "Organization <id>").
    pub name: Option<String>,
    pub location: Option<String>,
    pub internal_url: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub container_id: Option<String>,
    pub image_name: Option<String>,
    pub environment_variables: Value,
    pub features: Value,
    pub monitoring_enabled: bool,
}

/// An enrollment credential as stored: `me1.<id>.<secret>` is shown once to the
/// admin who creates it; only the SHA-256 of the whole token is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEnrollment {
    pub id: String,
    pub secret_hash: String,
    pub description: String,
    /// Scope: only orchestrator ids starting with this may enroll.
    pub id_prefix: Option<String>,
    /// Scope: enrolled instances join this organization (else each its own,
    /// named after its id, which must not exist yet).
    pub organization_id: Option<OrchestratorId>,
    /// Scope: at most this many enrollments (`None`: until it expires).
    pub max_uses: Option<u32>,
    pub expires_at: DateTime<Utc>,
    pub created_by: String,
}

/// An unknown orchestrator asking to register with an enrollment credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub secret_hash: String,
    pub orchestrator_id: OrchestratorId,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Register(Registration),
    CreateOrganization {
        organization_id: OrchestratorId,
        name: String,
        location: Option<String>,
        features: Value,
        metadata: Value,
    },
    CreateInstance {
        orchestrator_id: OrchestratorId,
        name: String,
        location: Option<String>,
        features: Value,
        metadata: Value,
    },
    /// An administrator renames or relocates an organization; handshakes no longer
    /// overwrite the fields given.
    UpdateOrganization {
        organization_id: OrchestratorId,
        name: Option<String>,
        location: Option<String>,
    },
    /// Deletes the instance, and its organization if no other instance remains.
    DeleteInstance {
        orchestrator_id: OrchestratorId,
    },
    /// Deletes messages, then the instance, then the organization if no other
    /// instance remains.
    Deregister {
        orchestrator_id: OrchestratorId,
    },
    SetIndependence {
        orchestrator_id: OrchestratorId,
        is_independent: bool,
        /// `None` keeps the stored value.
        privacy_mode: Option<bool>,
    },
    /// Merges `features` into the organization's features: a new configuration
    /// revision made by `by` (absent from a core that predates revisions).
    MergeFeatures {
        organization_id: OrchestratorId,
        features: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A new revision with the content of an earlier one; answers
    /// `{revision, hash, rolled_back_to}` (not found: no such revision).
    RollbackConfig {
        organization_id: OrchestratorId,
        revision: i64,
        by: String,
    },
    /// Resolves the rollout's targets (an empty set is refused) and stores it
    /// running; answers `{id, targets}`.
    CreateRollout(NewRollout),
    /// Applies the rollout's change to the targets of `wave`, once: only while the
    /// rollout runs, is at that wave and has not applied it. Answers the ids of
    /// the organizations changed (`{"changed": [...]}`; empty when it was not
    /// due).
    StartRolloutWave {
        rollout_id: String,
        wave: i32,
    },
    /// Ends `wave` of a running rollout: on to the next wave, done, or paused
    /// with a reason. A rollout no longer at that wave (or not running) is left.
    EndRolloutWave {
        rollout_id: String,
        wave: i32,
        next: WaveEnd,
    },
    /// Pause, resume or abort, by an administrator (conflict when the rollout's
    /// state does not allow it).
    SetRolloutState {
        rollout_id: String,
        action: RolloutAction,
    },
    CreateMessage {
        message_id: String,
        orchestrator_id: OrchestratorId,
        message_type: MessageType,
        content: String,
        metadata: Value,
    },
    SetMessageStatus {
        message_id: String,
        status: String,
    },
    /// Creates the admin unless one with that name exists.
    CreateAdmin {
        username: String,
        password_hash: String,
    },
    CreateSession {
        token_hash: String,
        username: String,
        expires_at: DateTime<Utc>,
    },
    RevokeSession {
        token_hash: String,
    },
    /// Records a session's use now (throttled by core), so its idle expiry is
    /// judged from the database after a core restart.
    TouchSession {
        token_hash: String,
    },
    /// Replaces an admin's password and ends the admin's sessions except
    /// `keep_session` (the one changing it); `from_environment` marks it as the
    /// `ADMIN_PASSWORD` last applied. Answers `{"sessions_ended"}`.
    SetAdminPassword {
        username: String,
        password_hash: String,
        keep_session: Option<String>,
        from_environment: bool,
    },
    /// Adds an admin (an existing name: conflict).
    AddAdmin {
        username: String,
        password_hash: String,
        superadmin: bool,
    },
    /// Removes an admin and its sessions; never the last admin or the last
    /// superadmin (conflict).
    RemoveAdmin {
        username: String,
    },
    /// Deletes an organization that has no instances left (else: conflict).
    DeleteOrganization {
        organization_id: OrchestratorId,
    },
    /// Bumps the orchestrator's token generation (voiding older tokens); answers the
    /// new generation, which is above `above` too: the generation the edges know
    /// for this id may be higher than the stored one when the id was
    /// deregistered and registered again (a new row starts at 0), and a token of
    /// the old row must not come back to life.
    BumpTokenGeneration {
        orchestrator_id: OrchestratorId,
        #[serde(default)]
        above: u64,
    },
    /// Stores a new enrollment credential (only its hash).
    CreateEnrollment(NewEnrollment),
    /// Revokes an enrollment credential; answers it (not found if unknown).
    RevokeEnrollment {
        id: String,
    },
    /// Registers a new orchestrator with an enrollment credential, in one
    /// transaction: the credential must be usable and its scope allow the id, and
    /// the id must not exist (an enrollment never takes over one). Answers
    /// `{orchestrator_id, organization_id, generation, enrollment_id}`.
    Enroll(EnrollRequest),
    /// Keeps a frame for an orchestrator that is not connected, to be sent at
    /// its next handshake until `expires_at`. Answers the stored row (not
    /// found: no such instance).
    QueueSend(QueuedSend),
    /// Marks delivered, in one statement, the orchestrator's queued sends that
    /// are neither delivered nor expired at `now`, and answers them oldest
    /// first (`{"sends": [{id, frame, frame_type, ...}]}`): whoever claims a
    /// send is the only one to deliver it.
    ClaimQueuedSends {
        orchestrator_id: OrchestratorId,
        now: DateTime<Utc>,
    },
    /// Undoes a claim whose frames could not be published: they are queued
    /// again for the next handshake. Answers `{"released": n}`.
    ReleaseQueuedSends {
        ids: Vec<String>,
    },
    /// Appends to the audit log.
    Audit {
        actor: String,
        action: String,
        target: Option<String>,
        address: Option<String>,
        detail: Value,
    },
    /// Marks `inactive`/`unknown` every active, non-independent orchestrator whose
    /// last processed heartbeat is older than `ttl_sec`; answers their ids.
    ExpireStale {
        ttl_sec: u64,
        /// The sweeping core's duty lease; absent from a core that predates
        /// replication (its sweep is then not fenced).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fence: Option<Fence>,
    },
    /// Answered at once (with the database's reachability) so core can say whether
    /// a persister is up.
    Ping,
}

/// Longest a queued send may wait for its orchestrator: 30 days.
pub const QUEUED_SEND_MAX_SEC: i64 = 30 * 24 * 3600;

/// A frame waiting for an orchestrator that is not connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedSend {
    pub id: String,
    pub orchestrator_id: OrchestratorId,
    /// The whole frame, as `POST …/send` received it.
    pub frame: Value,
    /// Its `type`.
    pub frame_type: String,
    /// The admin who queued it.
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
}

/// A rollout as an administrator asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRollout {
    pub id: String,
    /// `{"features": {...}, "settings": {...}}`, merged into each target's.
    pub change: Value,
    pub selector: RolloutSelector,
    /// Cumulative percentages, increasing, the last 100.
    pub waves: Vec<i32>,
    pub failure_threshold_pct: i32,
    pub wave_timeout_sec: i32,
    pub by: String,
}

/// Which organizations a rollout changes: those named, and (when `all`, a
/// location or labels are given) those matching all of those given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RolloutSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(value_type = Vec<String>))]
    pub orchestrator_ids: Vec<OrchestratorId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(value_type = Vec<String>))]
    pub organization_ids: Vec<OrchestratorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Matched against the `labels` object an orchestrator announces in its
    /// handshake metadata (every pair given must be there).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub labels: Map<String, Value>,
    #[serde(default)]
    pub all: bool,
}

/// How a wave ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum WaveEnd {
    NextWave,
    Completed,
    Paused { reason: String },
}

/// What an administrator does to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutAction {
    Pause,
    Resume,
    Abort,
}

/// Proof that a singleton duty's write comes from the current holder of the
/// duty lease (core's `duties` module): the lease bucket's creation time and
/// the lease's revision, compared in that order. The persister refuses a fence
/// older than the newest it has recorded, so a core that lost its lease while
/// paused cannot write after its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fence {
    /// Milliseconds since 1970 at which the lease bucket was made (revisions
    /// start again in a bucket made anew).
    pub epoch: i64,
    pub revision: u64,
}

/// What went wrong with a command, as core maps it to HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    NotFound,
    Conflict,
    Invalid,
    Unavailable,
}

/// The persister's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reply {
    /// Committed; `data` carries what the command returns (or null).
    Done {
        data: Value,
    },
    Failed {
        failure: Failure,
        detail: String,
    },
}

/// The audit-log entry recording a command, written in the command's own
/// transaction so that a committed change never lacks its entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: Value,
    /// Keys of the command's answer copied into `detail` (null when absent):
    /// what only the commit knows, such as a new revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_answer: Vec<String>,
}

impl AuditEntry {
    /// The same entry, with `keys` of the command's answer added to its detail.
    pub fn with_answer(mut self, keys: &[&str]) -> Self {
        self.from_answer = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }
}

/// What core sends on `{p}.persist.commands`: a command with the fields of
/// [`Command`] at the top level (so a bare command is a request too), and the
/// audit entry recording it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    #[serde(flatten)]
    pub command: Command,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_command_is_a_request_without_audit() {
        let bare = json!({"command": "revoke_session", "token_hash": "h"});
        let request: Request = serde_json::from_value(bare.clone()).unwrap();
        assert_eq!(request.audit, None);
        assert_eq!(serde_json::to_value(&request).unwrap(), bare);
    }

    #[test]
    fn a_request_carries_its_audit_entry_beside_the_command() {
        let request = Request {
            command: Command::Ping,
            audit: Some(AuditEntry {
                actor: "admin".into(),
                action: "ping".into(),
                target: None,
                address: None,
                detail: json!({}),
                from_answer: vec!["revision".into()],
            }),
        };
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["command"], "ping");
        assert_eq!(wire["audit"]["from_answer"], json!(["revision"]));
        assert_eq!(serde_json::from_value::<Request>(wire).unwrap(), request);
    }
}
