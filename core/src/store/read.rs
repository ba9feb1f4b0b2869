//! Read queries behind the API for organizations, instances, messages and the
//! overview. Each row type names the columns it selects, so a column added to a
//! table is sent to no one until a type names it; readers without a token see
//! only the [`PUBLIC_FIELDS`] of an organization or an instance. Listings of
//! audit entries, admins and enrollment tokens select theirs in their modules.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

/// A message's state.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Accepted,
    Dismissed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Dismissed => "dismissed",
        }
    }
}

/// An organization's or an instance's status as listed: `independent` whenever
/// `is_independent`, else what its heartbeats made it.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FleetStatus {
    Active,
    Inactive,
    Independent,
}

impl FleetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Independent => "independent",
        }
    }
}

/// What a reader without a token sees (`PUBLIC_READ_API=true`) of an
/// organization or an instance: names, places, states and times. Everything else
/// stays behind a token: the handshake's metadata (hostnames, addresses,
/// versions), URLs, container and image, edge and connection, snapshots,
/// features, settings, policies, token generations, and any column added later.
const PUBLIC_FIELDS: [&str; 17] = [
    "organization_id",
    "orchestrator_id",
    "organization_name",
    "name",
    "location",
    "status",
    "health_status",
    "is_active",
    "is_independent",
    "last_seen",
    "last_activity",
    "created_at",
    "updated_at",
    "instances",
    "connected",
    "connected_at",
    "last_keepalive",
];

/// Keeps only the [`PUBLIC_FIELDS`] of one organization or instance.
pub fn public_view(item: &mut Value) {
    if let Value::Object(fields) = item {
        fields.retain(|name, _| PUBLIC_FIELDS.contains(&name.as_str()));
    }
}

/// An organization with the columns a token holder sees: a column added to
/// the table stays private until it is named here.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OrganizationRow {
    pub organization_id: String,
    /// What an administrator set (a handshake does not overwrite it).
    pub name: String,
    #[schema(required = true)]
    pub location: Option<String>,
    /// What the orchestrator's last handshake announced; null if it never did.
    #[schema(required = true)]
    pub reported_name: Option<String>,
    #[schema(required = true)]
    pub reported_location: Option<String>,
    pub name_from_admin: bool,
    pub location_from_admin: bool,
    /// `independent` whenever `is_independent`, else `active` while one of its
    /// instances is (read from them), else `inactive`.
    #[schema(value_type = FleetStatus)]
    pub status: String,
    pub is_active: bool,
    pub is_independent: bool,
    #[schema(value_type = HashMap<String, Value>)]
    pub metadata: Value,
    #[schema(value_type = HashMap<String, Value>)]
    pub features: Value,
    #[schema(value_type = HashMap<String, Value>)]
    pub settings: Value,
    #[schema(value_type = HashMap<String, Value>)]
    pub policies: Value,
    /// Revision of the features and settings last pushed.
    pub config_revision: i64,
    /// Timestamps are RFC 3339, as PostgreSQL writes them.
    #[schema(format = DateTime, required = true)]
    pub last_seen: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Its instances: only on the single-organization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[sqlx(default)]
    pub instances: Option<i64>,
}

/// An organization's status, read from its instances: `active` while one of them
/// is. The row's own `status` is written apart from theirs (a heartbeat's
/// organization write lands up to a second after it, `persister/src/org_seen.rs`),
/// so after a disconnect it could say "active" above instances that all said
/// "inactive"; and one instance's disconnect wrote it inactive while another
/// was still connected.
macro_rules! organization_status {
    () => {
        concat!(
            "CASE WHEN o.is_independent THEN 'independent' WHEN EXISTS ",
            active_instance!(),
            " THEN 'active' ELSE 'inactive' END"
        )
    };
}

/// An instance of `organizations o` that makes it active.
macro_rules! active_instance {
    () => {
        "(SELECT 1 FROM orchestrator_instances i
           WHERE i.organization_id = o.organization_id
             AND i.status = 'active' AND NOT i.is_independent)"
    };
}

/// What the status filter keeps: the reading of `organization_status!`, with the
/// EXISTS at the top of the WHERE clause, where PostgreSQL runs it as one semi
/// (or anti) join; inside the CASE it probed the instances once per organization
/// (counting 200,000 organizations: 1.9 s against 0.4 s, on a busy 2-core machine).
fn status_condition(status: Option<&str>) -> &'static str {
    match status {
        None => "TRUE",
        Some("independent") => "o.is_independent",
        Some("active") => concat!("NOT o.is_independent AND EXISTS ", active_instance!()),
        Some("inactive") => concat!("NOT o.is_independent AND NOT EXISTS ", active_instance!()),
        Some(_) => "FALSE",
    }
}

/// The columns of an [`OrganizationRow`], of `organizations o`.
const ORGANIZATION_COLUMNS: &str = concat!(
    "o.organization_id, o.name, o.location, o.reported_name,
    o.reported_location, o.name_from_admin, o.location_from_admin, ",
    organization_status!(),
    " AS status,
    o.is_active, o.is_independent, o.metadata, o.features, o.settings, o.policies,
    o.config_revision, to_jsonb(o.last_seen) #>> '{}' AS last_seen,
    to_jsonb(o.created_at) #>> '{}' AS created_at, to_jsonb(o.updated_at) #>> '{}' AS updated_at",
);

/// `row` as JSON, with only the [`PUBLIC_FIELDS`] for a reader without a token.
pub fn shown(row: &impl Serialize, anonymous: bool) -> Value {
    let mut item = serde_json::to_value(row).unwrap_or_default();
    if anonymous {
        public_view(&mut item);
    }
    item
}

/// Filters of the organization list: `q` matches id, name or location (any case),
/// `status` is `active`, `inactive` or `independent`.
#[derive(Debug, Default)]
pub struct OrgFilter<'a> {
    pub q: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// One page and the total count of what matches.
pub async fn organizations(
    pool: &PgPool,
    filter: &OrgFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<OrganizationRow>, i64), sqlx::Error> {
    const SEARCH: &str = "($1::text IS NULL OR o.organization_id ILIKE '%' || $1 || '%'
             OR o.name ILIKE '%' || $1 || '%' OR o.location ILIKE '%' || $1 || '%')";
    let matches = format!("{SEARCH} AND {}", status_condition(filter.status));
    let pattern = filter.q.map(like_literal);
    let items = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE {matches}
          ORDER BY o.created_at DESC, o.organization_id LIMIT $2 OFFSET $3"
    )))
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM organizations o WHERE {matches}"
    )))
    .bind(&pattern)
    .fetch_one(pool)
    .await?;
    Ok((items, total))
}

/// `text` matched literally by `LIKE`: its wildcards `%` and `_` (and the
/// escape character itself) escaped, so `q=%` finds a percent sign, not all.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub async fn organization(pool: &PgPool, id: &str) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORGANIZATION_COLUMNS}, (SELECT count(*) FROM orchestrator_instances i
                 WHERE i.organization_id = o.organization_id) AS instances
           FROM organizations o WHERE o.organization_id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// An instance with the columns clients may see, and a column added to the
/// table stays private until it is named here. Never named: `database_url`,
/// `redis_url` and `environment_variables` (they may hold passwords) and
/// `conn_id` (a socket inside the cluster). The API adds what core knows live
/// (`connected`, ...).
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InstanceRow {
    pub orchestrator_id: String,
    #[schema(required = true)]
    pub organization_id: Option<String>,
    #[schema(required = true)]
    pub organization_name: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub location: Option<String>,
    #[schema(required = true)]
    pub reported_name: Option<String>,
    #[schema(required = true)]
    pub reported_location: Option<String>,
    /// `independent` whenever `is_independent`, else `active` while one of its
    /// instances is (read from them), else `inactive`.
    #[schema(value_type = FleetStatus)]
    pub status: String,
    pub health_status: String,
    pub is_independent: bool,
    pub privacy_mode: bool,
    pub monitoring_enabled: bool,
    #[schema(value_type = HashMap<String, Value>)]
    pub metadata: Value,
    #[schema(value_type = HashMap<String, Value>)]
    pub features: Value,
    #[schema(value_type = HashMap<String, Value>)]
    pub session_config: Value,
    #[schema(required = true)]
    pub internal_url: Option<String>,
    #[schema(required = true)]
    pub container_id: Option<String>,
    #[schema(required = true)]
    pub image_name: Option<String>,
    #[schema(required = true)]
    pub phoenix_endpoint: Option<String>,
    #[schema(required = true)]
    pub admin_email: Option<String>,
    #[schema(required = true)]
    pub support_email: Option<String>,
    #[schema(required = true)]
    pub website: Option<String>,
    /// The edge holding its socket, when connected.
    #[schema(required = true)]
    pub edge_id: Option<String>,
    /// The configuration it last reported.
    #[schema(required = true)]
    pub o_config_snapshot: Option<Value>,
    pub token_generation: i64,
    pub rule_revision: i64,
    /// Its own heartbeat TTL, when its metadata sets one (as PostgreSQL writes it).
    #[schema(value_type = Option<f64>, required = true)]
    pub liveness_ttl_sec: Option<Value>,
    /// Timestamps are RFC 3339, as PostgreSQL writes them.
    #[schema(format = DateTime, required = true)]
    pub last_seen: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub last_activity: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub connected_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub disconnected_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub o_config_snapshot_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The columns of an [`InstanceRow`], of `orchestrator_instances i`.
const INSTANCE_COLUMNS: &str = "i.orchestrator_id, i.organization_id, i.organization_name,
    i.name, i.location, i.reported_name, i.reported_location,
    CASE WHEN i.is_independent THEN 'independent' ELSE i.status END AS status,
    i.health_status, i.is_independent, i.privacy_mode, i.monitoring_enabled, i.metadata,
    i.features, i.session_config, i.internal_url, i.container_id, i.image_name,
    i.phoenix_endpoint, i.admin_email, i.support_email, i.website, i.edge_id,
    i.o_config_snapshot, i.token_generation, i.rule_revision,
    to_jsonb(i.liveness_ttl_sec) AS liveness_ttl_sec,
    to_jsonb(i.last_seen) #>> '{}' AS last_seen,
    to_jsonb(i.last_activity) #>> '{}' AS last_activity,
    to_jsonb(i.connected_at) #>> '{}' AS connected_at,
    to_jsonb(i.disconnected_at) #>> '{}' AS disconnected_at,
    to_jsonb(i.o_config_snapshot_at) #>> '{}' AS o_config_snapshot_at,
    to_jsonb(i.created_at) #>> '{}' AS created_at, to_jsonb(i.updated_at) #>> '{}' AS updated_at";

/// One page of instances (optionally of one organization) and their count.
pub async fn instances(
    pool: &PgPool,
    organization: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InstanceRow>, i64), sqlx::Error> {
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM orchestrator_instances i
          WHERE ($1::text IS NULL OR i.organization_id = $1)
          ORDER BY i.created_at DESC, i.orchestrator_id LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(organization)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM orchestrator_instances WHERE ($1::text IS NULL OR organization_id = $1)",
    )
    .bind(organization)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

pub async fn instance(pool: &PgPool, id: &str) -> Result<Option<InstanceRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM orchestrator_instances i WHERE i.orchestrator_id = $1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn instances_by_id(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM orchestrator_instances i WHERE i.orchestrator_id = ANY($1)"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(pool)
        .await
}

/// Which way a message went, as the listing's query derives it from `source`.
/// Only its schema is used: the query writes the text itself.
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MessageDirection {
    /// Written by the controller.
    ToOrchestrator,
    /// Written by the orchestrator (a recommendation to accept or dismiss).
    FromOrchestrator,
}

/// One controller message as listed.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MessageItem {
    pub id: String,
    pub orchestrator_id: String,
    /// Read as text; the table allows only the enum's values.
    #[schema(value_type = moolai_proto::frames::MessageType)]
    pub message_type: String,
    pub content: String,
    pub metadata: Value,
    #[schema(value_type = MessageStatus)]
    pub status: String,
    /// Who wrote it: `controller` or `orchestrator`.
    pub source: String,
    #[schema(value_type = MessageDirection)]
    pub direction: String,
    /// Timestamps are RFC 3339, as PostgreSQL writes them.
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Messages, newest first, optionally of one orchestrator, type and status, with
/// how many are held. Messages of an independent orchestrator are held (spec 002,
/// independence mode: "messages are hidden in the UI"): kept, but neither listed
/// nor delivered until independence ends.
pub async fn messages(
    pool: &PgPool,
    orchestrator: Option<&str>,
    message_type: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<(Vec<MessageItem>, i64), sqlx::Error> {
    let filter =
        "($1::text IS NULL OR m.orchestrator_id = $1) AND ($2::text IS NULL OR m.message_type = $2)
                  AND ($3::text IS NULL OR m.status = $3)";
    let held = "EXISTS (SELECT 1 FROM orchestrator_instances i
                         WHERE i.orchestrator_id = m.orchestrator_id AND i.is_independent)";
    // Only constant fragments are formatted in; every value is bound.
    let items = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, orchestrator_id, message_type, content, message_metadata AS metadata, status, source,
                CASE WHEN source = 'controller' THEN 'to_orchestrator' ELSE 'from_orchestrator' END AS direction,
                to_jsonb(created_at) #>> '{{}}' AS created_at, to_jsonb(updated_at) #>> '{{}}' AS updated_at
           FROM orchestrator_messages m
          WHERE {filter} AND NOT {held}
          ORDER BY m.created_at DESC, m.id LIMIT $4"
    )))
    .bind(orchestrator)
    .bind(message_type)
    .bind(status)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let held: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM orchestrator_messages m WHERE {filter} AND {held}"
    )))
    .bind(orchestrator)
    .bind(message_type)
    .bind(status)
    .fetch_one(pool)
    .await?;
    Ok((items, held))
}

/// Whether message `id` is held (its orchestrator is independent); `None` if unknown.
pub async fn message_held(pool: &PgPool, id: &str) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(i.is_independent, FALSE) FROM orchestrator_messages m
           LEFT JOIN orchestrator_instances i ON i.orchestrator_id = m.orchestrator_id
          WHERE m.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Counts for the overview.
#[derive(Debug, sqlx::FromRow)]
pub struct Counts {
    pub total_organizations: i64,
    /// Instances not independent, by status.
    pub active: i64,
    pub inactive: i64,
    pub independent: i64,
    pub total: i64,
    /// Pending messages of orchestrators that are not independent.
    pub pending_messages: i64,
}

/// Counts for the overview, all from the database.
pub async fn counts(pool: &PgPool) -> Result<Counts, sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations) AS total_organizations,
           (SELECT count(*) FROM orchestrator_instances WHERE NOT is_independent AND status = 'active') AS active,
           (SELECT count(*) FROM orchestrator_instances WHERE NOT is_independent AND status <> 'active') AS inactive,
           (SELECT count(*) FROM orchestrator_instances WHERE is_independent) AS independent,
           (SELECT count(*) FROM orchestrator_instances) AS total,
           (SELECT count(*) FROM orchestrator_messages m WHERE status = 'pending'
              AND NOT EXISTS (SELECT 1 FROM orchestrator_instances i
                               WHERE i.orchestrator_id = m.orchestrator_id AND i.is_independent))
             AS pending_messages",
    )
    .fetch_one(pool)
    .await
}
