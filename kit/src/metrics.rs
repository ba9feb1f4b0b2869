//! Prometheus metrics: one recorder per process, rendered at `GET /metrics` by
//! every role (see `health::router`). Names start with `moolai_`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const HANDSHAKE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0,
    3.0, 5.0, 10.0,
];

/// The process's Prometheus handle, installing the recorder on first use. Tests run
/// several roles in one process; they share it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("static buckets are valid")
            // Lags and latencies the benchmarks read as percentiles: finer steps
            // around the targets (≤ 1 s lag, ≤ 50 ms handshakes).
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("lag_seconds".into()),
                &[
                    0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0,
                    5.0, 10.0, 30.0,
                ],
            )
            .expect("static buckets are valid")
            // A handshake's shares (the edge's, the durable write's), printed side
            // by side against the 50 ms target.
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("handshake_seconds".into()),
                HANDSHAKE_BUCKETS,
            )
            .expect("static buckets are valid")
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("publish_seconds".into()),
                HANDSHAKE_BUCKETS,
            )
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (never in our binaries).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
