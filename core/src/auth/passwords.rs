//! Argon2id password hashing on core's own hashing threads ([`super::hashing`]),
//! and the first admin made (or its password rotated) at start from
//! `ADMIN_USERNAME`/`ADMIN_PASSWORD`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use moolai_proto::commands::Command;
use rand::RngExt;
use serde_json::json;
use tokio::sync::OnceCell;

use super::hashing::{HashPool, MEMORY_BLOCKS};
use crate::api::error::ApiError;
use crate::persister_client::Persister;

/// Hashes and checks passwords; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    pool: HashPool,
    /// What an unknown username is checked against, so that it costs the same
    /// argon2 work as a wrong password and timing does not tell which names
    /// exist. Made once, on first need (core makes it at start).
    dummy: Arc<OnceCell<String>>,
}

impl Passwords {
    /// `threads` hashing threads: as many as hashes may run at once, so that
    /// an admitted login never waits for another.
    pub fn new(threads: usize) -> Self {
        Self {
            pool: HashPool::new(threads),
            dummy: Arc::default(),
        }
    }

    /// Computes the dummy hash before the first login needs it.
    pub async fn warm_up(&self) {
        self.dummy_hash().await;
    }

    async fn dummy_hash(&self) -> String {
        let made = self.dummy.get_or_init(|| async {
            let made = self.hash("not a password anyone has".into()).await;
            made.unwrap_or_default()
        });
        made.await.clone()
    }

    /// Whether `password` matches `stored` (an unknown user: `None`, checked
    /// against the dummy hash all the same).
    pub async fn verify(&self, stored: Option<String>, password: String) -> bool {
        let known = stored.is_some();
        let phc = match stored {
            Some(phc) => phc,
            None => self.dummy_hash().await,
        };
        let run = self
            .pool
            .run(move |memory| matches(memory, &phc, &password));
        run.await.unwrap_or(false) && known
    }

    /// An argon2id PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.pool
            .run(move |memory| hash_with(memory, &password))
            .await
            .map_err(|e| ApiError::internal("password hashing not run", e))?
            .ok_or_else(|| ApiError::Internal("password hashing failed".into()))
    }
}

/// argon2's own `verify_password`, but in `memory` instead of 19 MiB
/// allocated for the occasion. A stored hash asking for more memory than a
/// hashing thread holds (none of ours does) is refused rather than let grow.
fn matches(memory: &mut [Block], phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Some(argon2) = hasher_of(&parsed) else {
        return false;
    };
    if argon2.params().block_count() > memory.len() {
        tracing::error!(
            m_cost = argon2.params().m_cost(),
            "a stored password hash needs more memory than a hashing thread holds"
        );
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let hashed = argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory);
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// The argon2 a PHC string was made with (algorithm, version, costs).
fn hasher_of(parsed: &PasswordHash) -> Option<Argon2<'static>> {
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(parsed).ok()?;
    Some(Argon2::new(algorithm, version, params))
}

/// A new argon2id PHC string for `password`, made in `memory`.
fn hash_with(memory: &mut [Block], password: &str) -> Option<String> {
    let salt = argon2::password_hash::generate_salt();
    let argon2 = argon2();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .ok()?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).ok()?,
        salt: Some(Salt::new(&salt).ok()?),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(hash.to_string())
}

/// Argon2id v1.3 with 19 MiB of memory, 2 passes, 1 lane (OWASP's baseline),
/// spelled out so a library default change cannot weaken it.
fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_BLOCKS, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// `bytes` random bytes as URL-safe base64.
pub fn new_secret(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill(&mut raw[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Brings `ADMIN_USERNAME` in line with `ADMIN_PASSWORD` once the persister
/// answers (retrying until then); without `ADMIN_PASSWORD`, creates a first
/// admin only when there is none and core has a terminal to show it on.
pub async fn bootstrap_admin(
    pool: sqlx::PgPool,
    persister: Persister,
    passwords: Passwords,
    username: String,
    password: Option<String>,
) {
    passwords.warm_up().await;
    let mut pause = Duration::from_millis(200);
    loop {
        let attempt = match password.as_deref() {
            Some(p) => apply_configured(&pool, &persister, &passwords, &username, p).await,
            None => generate_first(&pool, &persister, &passwords, &username).await,
        };
        match attempt {
            Ok(()) => return,
            Err(err) => tracing::debug!(%err, "admin bootstrap will be retried"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Creates the admin with `password`, or, when `ADMIN_PASSWORD` differs from
/// the value applied last, replaces its password and ends its sessions. A
/// password changed through the API stays as long as `ADMIN_PASSWORD` does not
/// change.
async fn apply_configured(
    pool: &sqlx::PgPool,
    persister: &Persister,
    passwords: &Passwords,
    username: &str,
    password: &str,
) -> Result<(), ApiError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT password_hash, environment_password_hash FROM admins WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let Some((current, applied)) = row else {
        let password_hash = passwords.hash(password.to_owned()).await?;
        let command = Command::CreateAdmin {
            username: username.to_owned(),
            password_hash,
        };
        persister.run(&command).await?;
        return Ok(());
    };
    let reference = applied.unwrap_or(current);
    if passwords.verify(Some(reference), password.to_owned()).await {
        return Ok(());
    }
    let command = Command::SetAdminPassword {
        username: username.to_owned(),
        password_hash: passwords.hash(password.to_owned()).await?,
        keep_session: None,
        from_environment: true,
    };
    let detail = json!({"source": "ADMIN_PASSWORD"});
    let audit = crate::api::audit::entry(
        "core",
        "admin_password_rotated",
        Some(username),
        None,
        detail,
    )
    .with_answer(&["sessions_ended"]);
    let done = persister.run_audited(&command, audit).await?;
    tracing::warn!(
        username = ?username,
        sessions_ended = %done["sessions_ended"],
        "ADMIN_PASSWORD changed: the admin's password is replaced and its sessions ended"
    );
    Ok(())
}

/// No `ADMIN_PASSWORD`: a first admin with a generated password, shown on
/// core's terminal only. Never through tracing: log files and the logs API keep
/// what tracing records. Without a terminal (a service, a container, output
/// redirected to a file) nobody could read it safely, so none is made.
async fn generate_first(
    pool: &sqlx::PgPool,
    persister: &Persister,
    passwords: &Passwords,
    username: &str,
) -> Result<(), ApiError> {
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM admins")
        .fetch_one(pool)
        .await?;
    if admins > 0 {
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        tracing::error!(
            "no admin exists and ADMIN_PASSWORD is unset: set ADMIN_PASSWORD (at least 12 \
             characters) and restart core; a generated password is shown only on a terminal"
        );
        return Ok(());
    }
    let password = new_secret(18);
    let command = Command::CreateAdmin {
        username: username.to_owned(),
        password_hash: passwords.hash(password.clone()).await?,
    };
    let done = persister.run(&command).await?;
    if done["created"] == true {
        println!("\n  First superadmin created: username `{username}`, password `{password}`\n  (shown only now, on this terminal; set ADMIN_PASSWORD to choose it)\n");
        tracing::warn!(username = ?username, "created the first superadmin with a generated password (shown on the terminal only)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn hashes_stored_before_the_pool_still_verify_and_new_ones_are_standard() {
        let passwords = Passwords::new(1);
        let old = argon2()
            .hash_password(b"an old password")
            .unwrap()
            .to_string();
        assert!(
            passwords
                .verify(Some(old.clone()), "an old password".into())
                .await
        );
        assert!(!passwords.verify(Some(old), "another one".into()).await);
        let new = passwords.hash("a new password".into()).await.unwrap();
        assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{new}");
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(argon2().verify_password(b"a new password", &parsed).is_ok());
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_hash_and_never_matches() {
        let passwords = Passwords::new(1);
        assert!(
            !passwords
                .verify(None, "not a password anyone has".into())
                .await
        );
        assert!(!passwords.verify(Some("garbage".into()), "x".into()).await);
    }

    #[tokio::test]
    async fn a_stored_hash_asking_more_memory_than_a_thread_holds_is_refused() {
        let params = Params::new(MEMORY_BLOCKS * 2, 1, 1, None).unwrap();
        let greedy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let phc = greedy.hash_password(b"pw").unwrap().to_string();
        assert!(!Passwords::new(1).verify(Some(phc), "pw".into()).await);
    }
}
