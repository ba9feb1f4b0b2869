//! Who may try a password, and how many hashes run at once.
//!
//! - Each (username, address) pair gets [`Limits::free_failures`] failures, then
//!   waits before each further try: 1 s, 2 s, 4 s … up to 15 min. A flood from one
//!   address therefore never locks the same user out from another address.
//! - Each address also has a looser budget over all usernames (password spraying),
//!   which a refusal for a busy hashing slot uses up too: hammering costs the
//!   hammerer, not only the server.
//! - An address is an IPv4 address or an IPv6 /64 ([`client_key`]): one
//!   subscriber gets one budget, not 2^64.
//! - An attempt is counted as a failure *before* its password is hashed and
//!   forgiven if it succeeds, so concurrent attempts cannot all slip in before the
//!   first one is counted.
//! - At most [`Limits::concurrent_hashes`] argon2 hashes (19 MiB each) run at
//!   once; a login beyond that is answered 429 at once instead of queueing.
//!   [`Limits::known_slots`] of them are kept for known clients (an address a
//!   login succeeded from within [`Limits::known_for`], or a caller holding a
//!   session), so a flood from strangers cannot starve the admin (issue 33, F3).
//!
//! The counters live in each core replica's memory, and every count, pardon
//! and unlock is told to the other replicas (`login_sharing`), so an attacker
//! spreading attempts over replicas meets one throttle. An operator can clear
//! them ([`LoginGuard::unlock`]); restarting every replica clears them too.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use moolai_kit::address::client_key;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The throttle's numbers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Failures of one (user, address) pair before it has to wait.
    pub free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Failures (and busy refusals) from one address, over every username, in
    /// [`Limits::window`].
    pub address_failures: u32,
    pub window: Duration,
    /// argon2 hashes running at once (each takes 19 MiB), known clients' included.
    pub concurrent_hashes: usize,
    /// Of those, the ones only known clients may use.
    pub known_slots: usize,
    /// How long a successful login makes its address known.
    pub known_for: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            free_failures: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            address_failures: 100,
            window: Duration::from_secs(15 * 60),
            concurrent_hashes: 4,
            known_slots: 1,
            known_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Why an attempt is refused before any hashing; both are a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This pair or address must wait this many seconds.
    Throttled(u64),
    /// Every hashing slot is busy: try again in a second.
    Busy,
}

/// Entries kept before expired ones are swept out (bounds the maps' memory).
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Pair {
    failures: u32,
    wait_until: Instant,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    failures: u32,
    since: Instant,
}

#[derive(Clone)]
pub struct LoginGuard {
    pairs: Arc<DashMap<(String, IpAddr), Pair>>,
    addresses: Arc<DashMap<IpAddr, Window>>,
    /// Addresses a login succeeded from, and when last.
    known: Arc<DashMap<IpAddr, Instant>>,
    /// Hashing slots anyone may take.
    open: Arc<Semaphore>,
    /// Hashing slots only known clients may take.
    kept: Arc<Semaphore>,
    limits: Arc<Limits>,
    /// Where this replica's counts go to the others, once shared.
    outbox: Arc<OnceLock<mpsc::Sender<GuardEvent>>>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// An admitted attempt: holds a hashing slot and has been counted as a failure;
/// [`Attempt::succeeded`] forgives it.
pub struct Attempt {
    guard: LoginGuard,
    key: (String, IpAddr),
    _permit: OwnedSemaphorePermit,
}

impl LoginGuard {
    pub fn new(limits: Limits) -> Self {
        let kept = limits.known_slots.min(limits.concurrent_hashes);
        Self {
            pairs: Arc::default(),
            addresses: Arc::default(),
            known: Arc::default(),
            open: Arc::new(Semaphore::new(limits.concurrent_hashes - kept)),
            kept: Arc::new(Semaphore::new(kept)),
            limits: Arc::new(limits),
            outbox: Arc::default(),
        }
    }

    /// Hashes that may run at once, all clients together: one hashing thread each.
    pub fn concurrent_hashes(&self) -> usize {
        self.limits.concurrent_hashes
    }

    /// From now on, tells `outbox` every count, pardon and unlock made here.
    pub fn share(&self, outbox: mpsc::Sender<GuardEvent>) {
        let _ = self.outbox.set(outbox);
    }

    fn tell(&self, event: GuardEvent) {
        if let Some(outbox) = self.outbox.get() {
            // Full: the bus is slow; the others count one failure fewer.
            let _ = outbox.try_send(event);
        }
    }

    /// Applies what another replica counted, pardoned or unlocked.
    pub fn apply(&self, event: GuardEvent) {
        let now = Instant::now();
        match event {
            GuardEvent::Counted { username, address } => self.count(&(username, address), now),
            GuardEvent::CountedAddress { address } => self.count_window(address, now),
            GuardEvent::Pardoned { username, address } => self.pardon(&(username, address)),
            GuardEvent::Unlocked { username, address } => {
                self.clear(username.as_deref(), address);
            }
        }
    }

    /// Admits an attempt by `username` from `address`, or says why not. The
    /// attempt counts as a failure from now on. An address a login succeeded
    /// from lately may also take the kept slots.
    pub fn admit(&self, username: &str, address: IpAddr) -> Result<Attempt, Refusal> {
        let known = self.is_known(client_key(address), Instant::now());
        self.admit_as(username, address, known)
    }

    /// [`LoginGuard::admit`] for a caller holding a valid session: known
    /// wherever it comes from.
    pub fn admit_with_session(&self, username: &str, address: IpAddr) -> Result<Attempt, Refusal> {
        self.admit_as(username, address, true)
    }

    fn admit_as(&self, username: &str, address: IpAddr, known: bool) -> Result<Attempt, Refusal> {
        let now = Instant::now();
        let key = (username.to_owned(), client_key(address));
        self.check_throttles(&key, now)?;
        let Some(permit) = self.slot(known) else {
            // Refused, yet counted: a flood of busy refusals is still a flood.
            self.count_address(address);
            return Err(Refusal::Busy);
        };
        self.count(&key, now);
        self.tell(GuardEvent::Counted {
            username: key.0.clone(),
            address,
        });
        Ok(Attempt {
            guard: self.clone(),
            key,
            _permit: permit,
        })
    }

    /// Whether this pair or its address has to wait.
    fn check_throttles(&self, key: &(String, IpAddr), now: Instant) -> Result<(), Refusal> {
        if let Some(pair) = self.pairs.get(key) {
            if pair.wait_until > now {
                return Err(Refusal::Throttled(secs(pair.wait_until - now)));
            }
        }
        if let Some(w) = self.addresses.get(&key.1) {
            let age = now - w.since;
            if age < self.limits.window && w.failures >= self.limits.address_failures {
                return Err(Refusal::Throttled(secs(self.limits.window - age)));
            }
        }
        Ok(())
    }

    /// An open hashing slot, or for a known client a kept one.
    fn slot(&self, known: bool) -> Option<OwnedSemaphorePermit> {
        let open = self.open.clone().try_acquire_owned().ok();
        open.or_else(|| known.then(|| self.kept.clone().try_acquire_owned().ok())?)
    }

    fn is_known(&self, address: IpAddr, now: Instant) -> bool {
        self.known
            .get(&address)
            .is_some_and(|at| now - *at < self.limits.known_for)
    }

    /// A hashing slot for an authenticated admin's other password work (adding
    /// an admin), or `Busy`.
    pub fn hashing_slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.slot(true).ok_or(Refusal::Busy)
    }

    /// Counts a refused request that never reached hashing (e.g. an oversized
    /// username) against its address.
    pub fn count_address(&self, address: IpAddr) {
        self.count_window(address, Instant::now());
        self.tell(GuardEvent::CountedAddress { address });
    }

    fn count(&self, key: &(String, IpAddr), now: Instant) {
        let key = &(key.0.clone(), client_key(key.1));
        self.sweep(now);
        let limits = &self.limits;
        let mut pair = self.pairs.entry(key.clone()).or_insert(Pair {
            failures: 0,
            wait_until: now,
            last: now,
        });
        pair.failures += 1;
        pair.last = now;
        if pair.failures >= limits.free_failures {
            let doublings = (pair.failures - limits.free_failures).min(20);
            let delay = (limits.first_delay * 2u32.pow(doublings)).min(limits.max_delay);
            pair.wait_until = now + delay;
        }
        drop(pair);
        self.count_window(key.1, now);
    }

    fn count_window(&self, address: IpAddr, now: Instant) {
        let mut w = self.addresses.entry(client_key(address)).or_insert(Window {
            failures: 0,
            since: now,
        });
        if now - w.since >= self.limits.window {
            *w = Window {
                failures: 0,
                since: now,
            };
        }
        w.failures += 1;
    }

    /// Clears the counters of `username` (every address) and/or of `address`
    /// (every username, and its own budget); answers how many entries went.
    pub fn unlock(&self, username: Option<&str>, address: Option<IpAddr>) -> usize {
        self.tell(GuardEvent::Unlocked {
            username: username.map(str::to_owned),
            address,
        });
        self.clear(username, address)
    }

    fn clear(&self, username: Option<&str>, address: Option<IpAddr>) -> usize {
        let address = address.map(client_key);
        let before = self.pairs.len();
        self.pairs.retain(|(user, addr), _| {
            let user_matches = username.is_none_or(|u| u == user);
            let addr_matches = address.is_none_or(|a| a == *addr);
            !(user_matches && addr_matches)
        });
        let mut removed = before - self.pairs.len();
        if let Some(address) = address {
            removed += usize::from(self.addresses.remove(&address).is_some());
        }
        removed
    }

    /// Drops entries nobody waits on any more, once the maps grow large.
    fn sweep(&self, now: Instant) {
        if self.pairs.len() > SWEEP_ABOVE {
            let window = self.limits.window;
            self.pairs
                .retain(|_, p| p.wait_until > now || now - p.last < window);
        }
        if self.addresses.len() > SWEEP_ABOVE {
            let window = self.limits.window;
            self.addresses.retain(|_, w| now - w.since < window);
        }
        if self.known.len() > SWEEP_ABOVE {
            let known_for = self.limits.known_for;
            self.known.retain(|_, at| now - *at < known_for);
        }
    }
}

impl Attempt {
    /// The password was right: forget this pair's failures and do not count
    /// the attempt against the address.
    pub fn succeeded(self) {
        self.guard.pardon(&self.key);
        self.guard.tell(GuardEvent::Pardoned {
            username: self.key.0.clone(),
            address: self.key.1,
        });
    }
}

impl LoginGuard {
    /// A right password: the pair's failures are forgotten and its address
    /// is known from now on.
    fn pardon(&self, key: &(String, IpAddr)) {
        let address = client_key(key.1);
        self.pairs.remove(&(key.0.clone(), address));
        if let Some(mut w) = self.addresses.get_mut(&address) {
            w.failures = w.failures.saturating_sub(1);
        }
        self.known.insert(address, Instant::now());
    }
}

/// A count, pardon or unlock, as one replica tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GuardEvent {
    /// An attempt admitted (counted as a failure until pardoned).
    Counted { username: String, address: IpAddr },
    /// A refused request counted against its address alone.
    CountedAddress { address: IpAddr },
    /// The attempt's password was right.
    Pardoned { username: String, address: IpAddr },
    Unlocked {
        username: Option<String>,
        address: Option<IpAddr>,
    },
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn fail(guard: &LoginGuard, user: &str, from: IpAddr) -> Result<(), Refusal> {
        guard.admit(user, from).map(drop)
    }

    /// Fails as often as the defaults allow before the pair has to wait.
    fn use_up_free_failures(guard: &LoginGuard, user: &str, from: IpAddr) {
        for n in 0..Limits::default().free_failures {
            fail(guard, user, from).unwrap_or_else(|r| panic!("free failure {n}: {r:?}"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pair_waits_twice_as_long_after_each_failure_past_the_free_ones() {
        let guard = LoginGuard::default();
        use_up_free_failures(&guard, "admin", ip(1));
        assert_eq!(fail(&guard, "admin", ip(1)), Err(Refusal::Throttled(1)));
        tokio::time::advance(Duration::from_millis(1001)).await;
        fail(&guard, "admin", ip(1)).unwrap(); // the 4th failure: wait 2 s
        assert_eq!(fail(&guard, "admin", ip(1)), Err(Refusal::Throttled(2)));
        tokio::time::advance(Duration::from_millis(2001)).await;
        fail(&guard, "admin", ip(1)).unwrap(); // 5th: 4 s
        assert_eq!(fail(&guard, "admin", ip(1)), Err(Refusal::Throttled(4)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_capped() {
        let limits = Limits {
            address_failures: u32::MAX,
            ..Limits::default()
        };
        let max = limits.max_delay;
        let guard = LoginGuard::new(limits);
        for _ in 0..40 {
            tokio::time::advance(max).await;
            fail(&guard, "admin", ip(1)).unwrap();
        }
        assert_eq!(
            fail(&guard, "admin", ip(1)),
            Err(Refusal::Throttled(max.as_secs()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_from_one_address_does_not_lock_the_user_out_elsewhere() {
        let guard = LoginGuard::default();
        for _ in 0..200 {
            let _ = fail(&guard, "admin", ip(66));
        }
        assert!(matches!(
            fail(&guard, "admin", ip(66)),
            Err(Refusal::Throttled(_))
        ));
        let attempt = guard.admit("admin", ip(7)).expect("another address");
        attempt.succeeded();
        assert!(guard.admit("admin", ip(7)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_spraying_usernames_is_throttled_for_the_window() {
        let guard = LoginGuard::default();
        for n in 0..100 {
            fail(&guard, &format!("user-{n}"), ip(9)).unwrap();
        }
        let Err(Refusal::Throttled(wait)) = fail(&guard, "fresh-name", ip(9)) else {
            panic!("the 101st failure from one address was admitted");
        };
        assert!((899..=900).contains(&wait), "{wait}");
        assert!(fail(&guard, "fresh-name", ip(10)).is_ok());
        tokio::time::advance(Duration::from_secs(900)).await;
        assert!(fail(&guard, "fresh-name", ip(9)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_forgives_the_pair() {
        let guard = LoginGuard::default();
        fail(&guard, "admin", ip(1)).unwrap();
        fail(&guard, "admin", ip(1)).unwrap();
        guard.admit("admin", ip(1)).unwrap().succeeded();
        use_up_free_failures(&guard, "admin", ip(1));
    }

    #[tokio::test(start_paused = true)]
    async fn hashing_slots_are_bounded_and_freed_with_the_attempt() {
        let guard = LoginGuard::default();
        // Three open slots for strangers, the fourth kept for known clients.
        let held: Vec<Attempt> = (0..3)
            .map(|n| guard.admit(&format!("u{n}"), ip(n)).unwrap())
            .collect();
        assert!(matches!(guard.admit("u9", ip(9)), Err(Refusal::Busy)));
        let kept = guard
            .admit_with_session("u8", ip(8))
            .expect("the kept slot");
        assert!(matches!(
            guard.admit_with_session("u7", ip(7)),
            Err(Refusal::Busy)
        ));
        assert!(guard.hashing_slot().is_err());
        drop((held, kept));
        assert!(guard.admit("u9", ip(9)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn strangers_holding_every_open_slot_leave_the_kept_one_to_known_clients() {
        let guard = LoginGuard::default();
        guard.admit("admin", ip(1)).unwrap().succeeded();
        let flood: Vec<Attempt> = (10..13)
            .map(|n| guard.admit("admin", ip(n)).unwrap())
            .collect();
        assert!(matches!(guard.admit("admin", ip(14)), Err(Refusal::Busy)));
        let admin = guard
            .admit("admin", ip(1))
            .expect("a known address gets in");
        drop(admin);
        let with_session = guard.admit_with_session("admin", ip(20));
        assert!(with_session.is_ok(), "a session gets in from anywhere");
        drop(with_session);
        tokio::time::advance(Limits::default().known_for).await;
        assert!(
            matches!(guard.admit("admin", ip(1)), Err(Refusal::Busy)),
            "an address stays known only for a while"
        );
        drop(flood);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_told_by_another_replica_makes_the_address_known_here() {
        let guard = LoginGuard::default();
        guard.apply(GuardEvent::Pardoned {
            username: "admin".into(),
            address: ip(1),
        });
        let _flood: Vec<Attempt> = (10..13).map(|n| guard.admit("x", ip(n)).unwrap()).collect();
        assert!(guard.admit("admin", ip(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn busy_refusals_use_up_the_address_budget_but_not_the_pair() {
        let guard = LoginGuard::default();
        let _flood: Vec<Attempt> = (10..13).map(|n| guard.admit("x", ip(n)).unwrap()).collect();
        for _ in 0..99 {
            assert_eq!(fail(&guard, "admin", ip(5)), Err(Refusal::Busy));
        }
        drop(_flood);
        fail(&guard, "admin", ip(5)).expect("the 100th: the pair has its free failures");
        assert!(
            matches!(fail(&guard, "admin", ip(5)), Err(Refusal::Throttled(_))),
            "100 busy refusals and failures from one address are its budget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_addresses_of_one_ipv6_64_share_one_budget() {
        let guard = LoginGuard::default();
        for n in 0..100u16 {
            let from = IpAddr::from([0x2001, 0xdb8, 0, 7, n, 1, 2, 3]);
            fail(&guard, &format!("user-{n}"), from).unwrap();
        }
        let same_64 = IpAddr::from([0x2001, 0xdb8, 0, 7, 0xffff, 0, 0, 1]);
        assert!(matches!(
            fail(&guard, "fresh", same_64),
            Err(Refusal::Throttled(_))
        ));
        let next_64 = IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]);
        assert!(fail(&guard, "fresh", next_64).is_ok());
        assert!(
            guard.unlock(None, Some(same_64)) >= 1,
            "unlocked per /64 too"
        );
        assert!(fail(&guard, "fresh", same_64).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn unlock_clears_a_user_everywhere_or_an_address() {
        let guard = LoginGuard::default();
        for from in [ip(1), ip(2)] {
            use_up_free_failures(&guard, "admin", from);
        }
        use_up_free_failures(&guard, "other", ip(1));
        assert_eq!(guard.unlock(Some("admin"), None), 2);
        assert!(guard.admit("admin", ip(1)).is_ok());
        assert!(guard.admit("admin", ip(2)).is_ok());
        assert!(guard.admit("other", ip(1)).is_err());
        assert!(guard.unlock(None, Some(ip(1))) >= 2);
        assert!(guard.admit("other", ip(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_is_announced_in_whole_seconds_rounded_up() {
        let guard = LoginGuard::default();
        use_up_free_failures(&guard, "admin", ip(1));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(fail(&guard, "admin", ip(1)), Err(Refusal::Throttled(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_try_does_not_lengthen_the_wait() {
        let guard = LoginGuard::default();
        use_up_free_failures(&guard, "admin", ip(1));
        for _ in 0..50 {
            assert!(fail(&guard, "admin", ip(1)).is_err());
        }
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(fail(&guard, "admin", ip(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_refused_before_hashing_count_against_the_address() {
        let guard = LoginGuard::default();
        for _ in 0..100 {
            guard.count_address(ip(5));
        }
        assert!(matches!(
            fail(&guard, "admin", ip(5)),
            Err(Refusal::Throttled(_))
        ));
        assert!(fail(&guard, "admin", ip(6)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn successes_do_not_use_up_the_address_budget() {
        let guard = LoginGuard::default();
        for _ in 0..150 {
            guard.admit("admin", ip(3)).unwrap().succeeded();
        }
        assert!(fail(&guard, "someone", ip(3)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn unlocking_an_address_restores_its_budget_and_a_pair_only_that_pair() {
        let guard = LoginGuard::default();
        for n in 0..100 {
            fail(&guard, &format!("user-{n}"), ip(9)).unwrap();
        }
        assert!(fail(&guard, "fresh", ip(9)).is_err());
        guard.unlock(None, Some(ip(9)));
        assert!(fail(&guard, "fresh", ip(9)).is_ok());

        for from in [ip(1), ip(2)] {
            use_up_free_failures(&guard, "admin", from);
        }
        assert_eq!(
            guard.unlock(Some("admin"), Some(ip(1))),
            2,
            "pair and address"
        );
        assert!(guard.admit("admin", ip(1)).is_ok());
        assert!(
            guard.admit("admin", ip(2)).is_err(),
            "the other pair still waits"
        );
        assert_eq!(guard.unlock(Some("nobody"), None), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn other_password_work_shares_the_hashing_slots_and_busy_is_not_a_pair_failure() {
        let guard = LoginGuard::new(Limits {
            concurrent_hashes: 2,
            ..Limits::default()
        });
        let slots = [guard.hashing_slot().unwrap(), guard.hashing_slot().unwrap()];
        for _ in 0..10 {
            assert!(matches!(guard.admit("admin", ip(1)), Err(Refusal::Busy)));
        }
        drop(slots);
        for _ in 0..3 {
            fail(&guard, "admin", ip(1)).expect("busy refusals were counted for the pair");
        }
    }
}
