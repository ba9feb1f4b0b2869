//! Each [`TestEnv`] drops the database it created when it goes out of scope, so
//! a test run leaves no `moolai_t…` databases behind.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::TestEnv;

/// Longest a drop may take (one took 7 s on a loaded machine): teardown must
/// never hang a test run; a database not dropped in time is left behind.
const DROP_LIMIT: Duration = Duration::from_secs(30);

impl Drop for TestEnv {
    fn drop(&mut self) {
        let Some(name) = database_name(&self.db_url) else {
            return;
        };
        let admin = crate::admin_db_url();
        // A thread with its own runtime: the test's runtime may be shutting down
        // (or be a current-thread one this drop runs on, which cannot block).
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                tokio::time::timeout(DROP_LIMIT, drop_database(&admin, &name))
                    .await
                    .ok()?
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("test database of {} not dropped", self.prefix);
        }
    }
}

/// `DROP ... WITH (FORCE)` ends the connections the roles still hold: they run
/// until the test's runtime stops, after this.
async fn drop_database(admin: &str, name: &str) -> Option<()> {
    let mut conn = PgConnection::connect(admin).await.ok()?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .ok()?;
    conn.close().await.ok()
}

/// The database a URL names, if it is one a [`TestEnv`] made (`moolai_t` and a
/// hex tag); any other is never dropped.
fn database_name(url: &str) -> Option<String> {
    let base = url.split('?').next()?;
    let name = base.rsplit('/').next()?;
    let tag = name.strip_prefix("moolai_t")?;
    (!tag.is_empty() && tag.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::database_name;

    #[test]
    fn only_a_test_database_is_ever_dropped() {
        let url = "postgres://u:p@127.0.0.1:5432/moolai_tab12cd34ef56?sslmode=disable";
        assert_eq!(database_name(url).as_deref(), Some("moolai_tab12cd34ef56"));
        assert_eq!(database_name("postgres://u:p@h/moolai"), None);
        assert_eq!(database_name("postgres://u:p@h/moolai_t"), None);
        assert_eq!(database_name("postgres://u:p@h/moolai_t1; DROP"), None);
    }
}
