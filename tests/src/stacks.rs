//! Stacks with one setting of core changed.

use crate::{start_core, start_persister, Running, TestEnv};

/// A persister and a core whose configuration `tweak` changed.
pub async fn persister_and_core(
    env: &TestEnv,
    tweak: impl FnOnce(&mut moolai_core::Config),
) -> (Running, Running) {
    let persister = start_persister(env.persister_config()).await;
    let mut config = env.core_config();
    tweak(&mut config);
    let core = start_core(config).await;
    (persister, core)
}
