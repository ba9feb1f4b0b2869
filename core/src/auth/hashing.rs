//! The threads that run argon2, each with one working memory kept for good.
//!
//! Hashing on tokio's blocking pool made every hash allocate and free its
//! 19 MiB on whichever thread ran it; glibc keeps freed blocks in that thread's
//! arena, so a login flood left core at about 1 GB (issue 33, F4). Here a fixed
//! number of threads each allocate their memory once, on their first hash, and
//! reuse it: core's hashing memory is at most `threads` × 19 MiB, however long
//! a flood lasts.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};

use argon2::Block;
use tokio::sync::oneshot;

/// 1 KiB blocks of one hash's working memory: 19 MiB, OWASP's baseline.
pub const MEMORY_BLOCKS: u32 = 19 * 1024;

/// Why a hash did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is gone (core is stopping) or the job panicked.
    #[error("the password hashing threads are gone")]
    PoolGone,
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// A fixed set of hashing threads; cheap to clone. The threads end when the
/// last clone is dropped.
#[derive(Clone)]
pub struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    /// `threads` hashing threads (at least one), each to hold 19 MiB once used.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&queue))
                .expect("start a password hashing thread");
        }
        Self { jobs }
    }

    /// Runs `job` on a hashing thread with its working memory. Callers bound
    /// how many wait (the login guard's slots); more would queue, not allocate.
    pub async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&mut [Block]) -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(job(memory));
        });
        self.jobs.send(job).map_err(|_| HashError::PoolGone)?;
        answered.await.map_err(|_| HashError::PoolGone)
    }
}

/// One hashing thread: takes jobs until the pool is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        let Ok(job) = job else { return };
        if memory.is_empty() {
            memory = vec![Block::new(); MEMORY_BLOCKS as usize];
        }
        // A panicking job must not take the thread (and its place) with it;
        // its caller sees `PoolGone`.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pools_own_threads_with_19_mib() {
        let pool = HashPool::new(2);
        let (name, blocks) = pool
            .run(|memory| {
                let name = std::thread::current().name().map(str::to_owned);
                (name, memory.len())
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("argon2-"));
        assert_eq!(blocks, MEMORY_BLOCKS as usize);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        let pool = HashPool::new(1);
        let failed = pool.run(|_| -> u8 { panic!("a bug in a job") }).await;
        assert!(matches!(failed, Err(HashError::PoolGone)));
        assert_eq!(pool.run(|_| 7).await.unwrap(), 7);
    }
}
