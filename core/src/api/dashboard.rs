//! Serves the built dashboard (`frontend/dist`, `DASHBOARD_DIR`) at `/` from the same
//! origin as the API. Unknown paths under `/api/` answer a JSON 404; any other path
//! gets `index.html`, so the single-page app's own routes survive a reload.
//!
//! Every answer carries a Content-Security-Policy the built app works under (its
//! scripts and styles are files of its own origin; nothing inline, no `eval`) and
//! that keeps other sites from framing it. Source maps are not served: they would
//! hand out the whole source, and a build should not contain them anyway
//! (`frontend/vite.config.ts`).

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use tower::util::{BoxCloneSyncService, ServiceExt};
use tower::Layer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::error::ApiError;

/// What the dashboard may load: its own scripts, styles, images, API and event
/// stream (all same-origin), inline SVG data images; no plugins, no `<base>`
/// rewriting, no form posts elsewhere, and no framing by any page (clickjacking;
/// `X-Frame-Options: DENY` says the same to older browsers, see `api::router`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The fallback service of the API router.
pub fn service(dir: &Path) -> BoxCloneSyncService<Request<Body>, Response, Infallible> {
    let dir: PathBuf = dir.to_owned();
    let files = ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html")));
    let files = tower::service_fn(move |req: Request<Body>| {
        let (files, dir) = (files.clone(), dir.clone());
        async move {
            let path = req.uri().path();
            if path.starts_with("/api/") || path.ends_with(".map") {
                return Ok(not_found("Not Found"));
            }
            if !dir.join("index.html").exists() {
                return Ok(not_found(
                    "dashboard not built: run `npm ci && npm run build` in frontend/",
                ));
            }
            let response = files.oneshot(req).await.map(IntoResponse::into_response);
            Ok(response.unwrap_or_else(|err| not_found(&err.to_string())))
        }
    });
    let csp = SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    BoxCloneSyncService::new(csp.layer(files))
}

fn not_found(detail: &str) -> Response {
    ApiError::NotFound(detail.to_owned()).into_response()
}
