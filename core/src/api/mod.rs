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
use axum::{Json, Router};
use sqlx::PgPool;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
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

/// What the document says beside its operations, which [`routes`] adds.
#[derive(OpenApi)]
#[openapi(
    info(title = "Moolai Controller API", description = "Control plane for fleets of orchestrators. See docs/api.md."),
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
    routes().into_openapi()
}

/// Every API route, each declared once for the router and the document.
/// One `routes!` holds only handlers of one path: it routes each of its
/// handlers at every path among them.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(controller::health))
        .routes(routes!(controller::overview))
        .routes(routes!(controller::edges))
        .routes(routes!(controller::cores))
        .routes(routes!(events::last_seen))
        .routes(routes!(controller::logs))
        // A login never travels whole to the bus: an oversized one is answered
        // 422 and audited under a shortened name, so it keeps the server's limit.
        .routes(
            routes!(auth::login)
                .map(|login| login.layer(axum::extract::DefaultBodyLimit::max(LOGIN_BODY_BYTES))),
        )
        .routes(routes!(auth::logout))
        .routes(routes!(admins::me))
        .routes(routes!(admins::change_password))
        .routes(routes!(admins::unlock))
        .routes(routes!(admins::list, admins::create))
        .routes(routes!(admins::remove))
        .routes(routes!(internal::logs))
        .routes(routes!(internal::activity))
        .routes(routes!(audit::list))
        .routes(routes!(tokens::rotate, tokens::revoke))
        .routes(routes!(internal::health))
        .routes(routes!(enroll::create, enroll::list))
        .routes(routes!(enroll::revoke))
        .merge(organizations::router())
        .merge(orchestrators::router())
        .merge(registration::router())
        .merge(independence::router())
        .merge(messages::router())
        .merge(configuration::router())
        .merge(rollouts::router())
        .merge(sends::router())
        .routes(routes!(events::events))
        .routes(routes!(enroll::enroll))
        .routes(routes!(root_health))
}

/// The API router for `state`, with CORS for `allowed_origins` only.
pub fn router(
    state: AppState,
    allowed_origins: &[String],
    dashboard_dir: &std::path::Path,
) -> Router {
    let (api, document) = routes().split_for_parts();
    api.merge(docs(document))
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
fn docs(document: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", document)).layer(
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

#[utoipa::path(get, operation_id = "root_health", path = "/health", tag = "health", responses((status = 200, description = "Service info and dependencies (no auth)", body = RootHealth)))]
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

#[cfg(test)]
mod document_tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use axum::routing::{on, MethodFilter};
    use serde_json::Value;

    use super::*;

    const METHODS: [(&str, MethodFilter); 5] = [
        ("get", MethodFilter::GET),
        ("post", MethodFilter::POST),
        ("put", MethodFilter::PUT),
        ("patch", MethodFilter::PATCH),
        ("delete", MethodFilter::DELETE),
    ];

    /// Each operation of the document: (method, path) and the operation.
    fn operations() -> Vec<(String, String, Value)> {
        let document = serde_json::to_value(openapi()).unwrap();
        let paths = document["paths"].as_object().expect("paths").clone();
        let mut found = Vec::new();
        for (path, item) in paths {
            for (method, _) in METHODS {
                if let Some(operation) = item.get(method) {
                    found.push((method.to_owned(), path.clone(), operation.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn every_operation_has_an_id_of_its_own() {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let operations = operations();
        assert!(operations.len() > 50, "{} operations", operations.len());
        for (method, path, operation) in operations {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_owned();
            let here = format!("{method} {path}");
            if let Some(first) = seen.insert(id.clone(), here.clone()) {
                panic!("operationId {id} is both {first} and {here}");
            }
        }
    }

    #[test]
    fn path_parameters_are_those_of_the_path_template() {
        for (method, path, operation) in operations() {
            let template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let declared: BTreeSet<&str> = parameters
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(declared, template, "path parameters of {method} {path}");
        }
    }

    /// The router routes exactly the document's operations: each documented
    /// method of each documented path is taken (adding it again panics), and
    /// no other method of those paths is. `routes` declares every route with
    /// `routes!`, so no path is routed that the document lacks.
    #[test]
    fn the_router_routes_what_the_document_lists() {
        let (router, document) = routes().split_for_parts();
        let document = serde_json::to_value(document).unwrap();
        let paths = document["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, filter) in METHODS {
                let probe = router.clone();
                let taken = catch_unwind(AssertUnwindSafe(|| {
                    probe.route(path, on(filter, || async {}))
                }))
                .is_err();
                let documented = item.get(method).is_some();
                assert_eq!(taken, documented, "{method} {path}: routed {taken}");
            }
        }
    }

    #[test]
    fn free_form_bodies_take_any_key() {
        let document = serde_json::to_value(openapi()).unwrap();
        for (method, path) in [
            ("put", "/api/v1/controller/organizations/{id}/features"),
            ("post", "/api/v1/internal/orchestrators/{id}/send"),
        ] {
            let schema = &document["paths"][path][method]["requestBody"]["content"]
                ["application/json"]["schema"];
            assert_eq!(schema["type"], "object", "{method} {path}: {schema}");
            assert!(
                schema.get("additionalProperties").is_some(),
                "{method} {path}: {schema}"
            );
        }
    }
}
