//! Core's HTTP surface: the REST API of `docs/api.md`, its OpenAPI document at
//! `/openapi.json` and interactive page at `/docs`, `/health`, `/healthz`, `/readyz`.

pub mod admins;
pub mod audit;
pub mod auth;
pub mod configuration;
pub mod controller;
pub mod dashboard;
pub mod enroll;
pub mod error;
pub mod events;
pub mod extract;
pub mod independence;
pub mod internal;
pub mod messages;
pub mod orchestrators;
pub mod organizations;
pub mod registration;
pub mod rollouts;
pub mod sends;
pub mod tokens;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::http::{header, HeaderValue, Method};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use sqlx::PgPool;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::cluster::edges::Edges;
use crate::fleet::activity::Feed;
use crate::fleet::live::Live;
use crate::persister_client::Persister;
use crate::push::route::Routes;
use auth::LoginGuard;
use extract::AuthSettings;

/// Everything a handler may need; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub live: Live,
    pub routes: Routes,
    /// State pushes (configuration, independence, message status), in order.
    pub pushes: crate::push::ordered::Pushes,
    pub feed: Feed,
    pub persister: Persister,
    pub edges: Edges,
    pub auth: Arc<AuthSettings>,
    pub guard: LoginGuard,
    /// argon2 on core's own hashing threads, one per slot of `guard`.
    pub passwords: auth::Passwords,
    pub sessions: auth::SessionUse,
    pub tokens: Option<crate::auth::orchestrator_tokens::Tokens>,
    /// Heartbeat rates and their last two minutes, for the event stream.
    pub rates: crate::fleet::rates::Rates,
    /// Rules and registrations, changed here and told to the other replicas.
    pub changes: crate::cluster::changes::Changes,
    /// The core replicas, this one included.
    pub cores: crate::cluster::peers::Cores,
    pub core_id: moolai_proto::CoreId,
    /// Cancelled on SIGTERM: long-lived responses (the event stream) end with it.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// The handles of a push made now (`crate::push::now`).
    pub fn now(&self) -> crate::push::now::Now<'_> {
        crate::push::now::Now {
            live: &self.live,
            pushes: &self.pushes,
            feed: &self.feed,
        }
    }

    /// The handles the replica's duties and sharing need.
    pub fn shared(&self) -> crate::cluster::replica::Shared {
        crate::cluster::replica::Shared {
            pool: self.pool.clone(),
            persister: self.persister.clone(),
            passwords: self.passwords.clone(),
            tokens: self.tokens.clone(),
            feed: self.feed.clone(),
            guard: self.guard.clone(),
            changes: self.changes.clone(),
            live: self.live.clone(),
            pushes: self.pushes.clone(),
        }
    }

    /// Whether the database answers now and NATS is connected, as the health
    /// endpoints report them.
    pub async fn dependencies_up(&self) -> (bool, bool) {
        let database = sqlx::query("SELECT 1").execute(&self.pool).await.is_ok();
        let nats = matches!(
            self.nats.connection_state(),
            async_nats::connection::State::Connected
        );
        (database, nats)
    }
}

/// A dependency as the health endpoints name its state.
fn dependency_word(up: bool) -> &'static str {
    if up {
        "connected"
    } else {
        "unavailable"
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Moolai Controller API", description = "Control plane for fleets of orchestrators. See docs/api.md."),
    paths(
        controller::health, controller::overview, controller::edges, controller::cores, controller::logs,
        organizations::organizations, organizations::organization, organizations::create_organization,
        organizations::update_organization, organizations::delete_organization, organizations::put_features,
        orchestrators::orchestrators, orchestrators::orchestrator, orchestrators::live, orchestrators::live_one,
        registration::create_instance, registration::delete_instance, registration::register, registration::deregister,
        auth::login, auth::logout,
        admins::me, admins::change_password, admins::unlock, admins::list, admins::create, admins::remove,
        independence::put_independence, independence::get_independence,
        messages::create_message, messages::orchestrator_messages, messages::set_message_status, messages::all_messages,
        messages::send, sends::orchestrator_sends, internal::activity,
        audit::list,
        configuration::config, configuration::fleet, configuration::revisions, configuration::rollback,
        rollouts::create, rollouts::list, rollouts::one, rollouts::act,
        tokens::rotate, enroll::enroll, enroll::create, enroll::list, enroll::revoke,
        tokens::revoke, internal::logs, internal::health, root_health, events::events, events::last_seen,
    ),
    // The event stream's payloads have no response body to be found through,
    // so they are named here for the dashboard's generated types.
    components(schemas(error::FieldError, events::StatsHistory, crate::fleet::rates::StatsPoint, crate::fleet::activity::Activity)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The generated OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The API router for `state`, with CORS for `allowed_origins` only.
pub fn router(
    state: AppState,
    allowed_origins: &[String],
    dashboard_dir: &std::path::Path,
) -> Router {
    let controller = Router::new()
        .route("/health", get(controller::health))
        .route("/overview", get(controller::overview))
        .route("/edges", get(controller::edges))
        .route("/cores", get(controller::cores))
        .route("/last-seen", get(events::last_seen))
        .route("/logs", get(controller::logs));
    let internal = Router::new()
        // A login never travels whole to the bus: an oversized one is answered
        // 422 and audited under a shortened name, so it keeps the server's limit.
        .route(
            "/auth/login",
            post(auth::login).layer(axum::extract::DefaultBodyLimit::max(LOGIN_BODY_BYTES)),
        )
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(admins::me))
        .route("/auth/password", post(admins::change_password))
        .route("/auth/unlock", post(admins::unlock))
        .route("/admins", get(admins::list).post(admins::create))
        .route("/admins/{username}", delete(admins::remove))
        .route("/logs", get(internal::logs))
        .route("/activity", get(internal::activity))
        .route("/audit", get(audit::list))
        .route(
            "/orchestrators/{id}/token",
            post(tokens::rotate).delete(tokens::revoke),
        )
        .route("/health", get(internal::health))
        .route("/enrollment-tokens", post(enroll::create).get(enroll::list))
        .route("/enrollment-tokens/{id}", delete(enroll::revoke));
    Router::new()
        .nest("/api/v1/controller", controller)
        .nest("/api/v1/internal", internal)
        .merge(organizations::router())
        .merge(orchestrators::router())
        .merge(registration::router())
        .merge(independence::router())
        .merge(messages::router())
        .merge(configuration::router())
        .merge(rollouts::router())
        .merge(sends::router())
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/enroll", post(enroll::enroll))
        .route("/health", get(root_health))
        .merge(docs())
        .fallback_service(dashboard::service(dashboard_dir))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors(allowed_origins))
        // On every answer: no MIME sniffing (a JSON body read as HTML), no
        // framing of the dashboard or /docs by another site.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

/// The largest request body: every write travels to the persister as one bus
/// message (`max_payload` 1 MB in nats.conf), with its audit entry beside it;
/// a body past this is a 413 here rather than a 503 from the bus.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A login's body limit: axum's default, as before [`MAX_BODY_BYTES`].
const LOGIN_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What `/docs` may load: Swagger UI's own files, and the API it describes.
/// It sets styles from its scripts, hence `'unsafe-inline'` for styles only.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Swagger UI on `/docs` and the description on `/openapi.json`, under a
/// Content-Security-Policy as strict as the dashboard's.
fn docs() -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi())).layer(
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        ),
    )
}

/// Only listed origins; credentials allowed, so never `*`.
fn cors(allowed: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// `GET /health`: what runs and what it reaches, for load balancers and people.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RootHealth {
    /// `healthy`, or `degraded` when the database or NATS is unavailable.
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub components: Components,
}

/// Each dependency `connected` or `unavailable`, and the sockets held now.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Components {
    pub database: &'static str,
    pub nats: &'static str,
    pub connected_orchestrators: usize,
}

#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "Service info and dependencies (no auth)", body = RootHealth)))]
async fn root_health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Json<RootHealth> {
    let (database, nats) = state.dependencies_up().await;
    Json(RootHealth {
        status: if database && nats {
            "healthy"
        } else {
            "degraded"
        },
        service: "moolai-core",
        version: env!("CARGO_PKG_VERSION"),
        components: Components {
            database: dependency_word(database),
            nats: dependency_word(nats),
            connected_orchestrators: state.live.connected(),
        },
    })
}
