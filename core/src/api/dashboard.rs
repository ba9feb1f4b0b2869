//! Serves the built dashboard (`frontend/dist`, `DASHBOARD_DIR`) at `/` from the same
//! origin as the API. Unknown paths under `/api/` answer a JSON 404; any other path
//! gets `index.html`, so the single-page app's own routes survive a reload.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower::util::{BoxCloneSyncService, ServiceExt};
use tower_http::services::{ServeDir, ServeFile};

/// The fallback service of the API router.
pub fn service(dir: &Path) -> BoxCloneSyncService<Request<Body>, Response, Infallible> {
    let dir: PathBuf = dir.to_owned();
    let files = ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html")));
    BoxCloneSyncService::new(tower::service_fn(move |req: Request<Body>| {
        let (files, dir) = (files.clone(), dir.clone());
        async move {
            if req.uri().path().starts_with("/api/") {
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
    }))
}

fn not_found(detail: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "detail": detail }))).into_response()
}
