//! The logs API's buffer keeps a record's fields, so that its message and fields
//! read as the printed log shows them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use moolai_kit::logbuf::{recent, BufferLayer, Filter};

/// What the printed log (tracing-subscriber's default format) writes.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_records_message_and_fields_read_as_the_printed_log_shows_them() {
    let printed = Printed::default();
    let writer = printed.clone();
    let subscriber = tracing_subscriber::registry().with(BufferLayer).with(
        tracing_subscriber::fmt::layer()
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(move || writer.clone()),
    );
    let err = std::io::Error::other("broken pipe");
    tracing::subscriber::with_default(subscriber, || {
        let code: u16 = 1008;
        tracing::info!(
            code,
            reason = "missing_orchestrator_id",
            "zq-fields handshake refused"
        );
        tracing::warn!(%err, retry = true, why = ?Some(3), "zq-fields lost");
        tracing::info!(answer = "two words", "zq-fields quoted");
        tracing::info!("zq-fields bare");
    });
    let mut buffered: Vec<String> = recent(&Filter {
        q: Some("zq-fields"),
        limit: 10,
        ..Filter::default()
    })
    .into_iter()
    .map(|e| match e.fields.as_str() {
        "" => e.message,
        fields => format!("{} {fields}", e.message),
    })
    .collect();
    // Records of one microsecond tie in the buffer's order: compare sorted.
    buffered.sort();
    let printed = String::from_utf8(printed.0.lock().unwrap().clone()).unwrap();
    let mut printed: Vec<&str> = printed.lines().map(str::trim).collect();
    printed.sort();
    assert_eq!(buffered, printed);
    assert_eq!(
        buffered,
        [
            "zq-fields bare",
            r#"zq-fields handshake refused code=1008 reason="missing_orchestrator_id""#,
            "zq-fields lost err=broken pipe retry=true why=Some(3)",
            r#"zq-fields quoted answer="two words""#,
        ]
    );
}
