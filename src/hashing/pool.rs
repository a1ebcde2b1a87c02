//! The bounded argon2 worker pool: W dedicated OS threads fed by three priority lanes.
//!
//! Why this shape:
//! - **Dedicated threads, reused memory.** Each worker owns one argon2 memory block for life, so
//!   hashing memory is exactly W × m_cost whatever the offered load, and the async runtime never
//!   runs a hash.
//! - **Admission by expected wait.** A job is refused at once (503 + Retry-After) when the work
//!   queued ahead of it, at the measured hash time, would keep it waiting longer than its lane's
//!   share of the queue budget. Overload therefore costs microseconds, not a hash.
//! - **Deadlines.** Every job carries one; a job whose deadline passed (or whose caller went away)
//!   before a worker got to it is answered without hashing.
//! - **Adaptive LIFO, not CoDel.** CoDel's 5 ms target is below a single argon2 computation
//!   (~20–40 ms), so it would keep dropping while workers sit idle between arrivals and lose
//!   goodput, and a drop at dequeue answers the client only after it has waited. Admission by
//!   expected wait already keeps the queue within the budget, so each lane is FIFO while that
//!   promise holds. When it breaks (the lane's oldest job has waited half its deadline, far past
//!   any wait admission allows: the hash-time estimate was wrong, e.g. the CPU was stolen), the
//!   lane switches to LIFO: the
//!   newest requests, whose clients are still waiting, are served, and stale ones run into their
//!   deadline and are answered 503. (A first version switched at half the queue budget; the load
//!   report showed it switching on ordinary overload, stranding admitted jobs until their deadline
//!   and pushing shed p99 to the 500 ms deadline; docs/perf.md measures both side by side, as the
//!   series `pool@4e59e25`.)
//!
//! - **Ordered by arrival.** Within a lane, jobs wait in order of their client's arrival, which
//!   the waiting room (`crate::waiting`) reads from a ticket for a client returning after a shed
//!   answer. Admission looks at the wait at that place, so a full lane does not refuse a client
//!   who arrived earlier than its newest jobs: it goes before them, and any of them pushed past
//!   what it was admitted to is displaced (answered as shed, and its client keeps its own place).
//!   So across retries, first come is first served.
//! - **Holds.** A job may carry a hold ([`Place::hold`]): it is admitted when its wait at its
//!   place is within the hold, even beyond its lane's budget. The waiting room gives one to the
//!   front of its line, where a whole-second Retry-After is too coarse (docs/waiting-room.md).
//!   A held job's deadline is extended by its hold, and its wait is no sign of congestion.
//!
//! Lanes, highest first: `Confirm` (a user setting a new password), `Login`, `Background`
//! (rehash-on-upgrade and anything else). Admission thresholds shrink down the lanes (100 %, 75 %,
//! 25 % of the budget), so as load rises the lowest lane is shed first. Starvation rule: workers
//! take the highest non-empty lane, except that after [`STARVATION_LIMIT`] consecutive picks that
//! passed over a waiting lower-lane job, the next pick serves the longest-waiting job of the lower
//! lanes. A queued job is therefore passed over at most that many times in a row.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use super::compute;
use super::params::HashParams;
use super::pepper::Peppers;
use super::phc::{HashError, PhcString};
use crate::metrics::Metrics;
use crate::secret::SecretString;

mod worker;

pub const STARVATION_LIMIT: u32 = 8;
/// Upper bound on queued jobs whatever the budget says: a queued job holds a password in memory.
pub const MAX_QUEUED: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    Confirm = 0,
    Login = 1,
    Background = 2,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Confirm, Lane::Login, Lane::Background];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Login => "login",
            Self::Background => "background",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Share of the queue budget a job of this lane may expect to wait.
    fn budget_share(self) -> f64 {
        match self {
            Self::Confirm => 1.0,
            Self::Login => 0.75,
            Self::Background => 0.25,
        }
    }
}

/// Where a job waits: its lane, and its client's arrival (ms since the Unix epoch), which orders
/// the lane. Without a waiting room's arrival, a job arrives now.
///
/// `hold`: how long this job may wait in the queue at its place by arrival before it is refused,
/// when that is longer than its lane's share of the queue budget. The waiting room gives it to
/// a client returning with a ticket: its turn is near, and the queue, not another round trip, is
/// the fair place to wait for it (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub lane: Lane,
    pub arrival_ms: u64,
    pub hold: Duration,
}

impl From<Lane> for Place {
    fn from(lane: Lane) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            lane,
            arrival_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
            hold: Duration::ZERO,
        }
    }
}

/// What a job asks of a worker.
pub enum Work {
    Hash {
        password: SecretString,
    },
    /// `peppered = false` verifies a legacy hash made without our pepper; otherwise the pepper
    /// is the one the hash names (see `pepper`).
    Verify {
        password: SecretString,
        phc: PhcString,
        peppered: bool,
    },
}

impl Work {
    /// Does the work on `memory`; the one place hashing and verification are dispatched, for
    /// pool workers and the unbounded baseline alike.
    ///
    /// # Errors
    /// When argon2 fails or a stored hash is unusable.
    pub fn run(
        self,
        memory: &mut Vec<argon2::Block>,
        peppers: &Peppers,
        params: HashParams,
    ) -> Result<Done, HashError> {
        match self {
            Work::Hash { password } => {
                compute::hash(memory, peppers.current(), params, password.expose()).map(Done::Hash)
            }
            Work::Verify {
                password,
                phc,
                peppered,
            } => {
                let pepper = peppered.then(|| {
                    peppers.for_hash(&phc).unwrap_or_else(|| {
                        // Still one full computation (it fails), so this login costs what any
                        // other does; the operator dropped a retired pepper too soon.
                        tracing::warn!("a stored hash names a pepper this process does not hold");
                        peppers.current()
                    })
                });
                compute::verify(memory, pepper, password.expose(), &phc).map(Done::Verify)
            }
        }
    }
}

#[derive(Debug)]
pub enum Done {
    Hash(PhcString),
    Verify(bool),
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("hashing capacity is exhausted")]
    Shed { retry_after: Duration },
    #[error("no worker was free before the job's deadline")]
    Expired,
    #[error("hashing pool is shut down")]
    Closed,
    #[error(transparent)]
    Hash(#[from] HashError),
}

#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    pub workers: usize,
    pub queue_budget: Duration,
    pub job_deadline: Duration,
    pub params: HashParams,
}

struct Job {
    work: Work,
    lane: Lane,
    arrival_ms: u64,
    /// The longest wait it was admitted to: its lane's share of the budget, or its hold
    /// ([`Place::hold`]) when it was admitted on that. Past it, it is displaced.
    allowed: Duration,
    /// Admitted on its hold: waiting that long is no sign of congestion.
    held: bool,
    enqueued: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Result<Done, PoolError>>,
}

#[derive(Default)]
struct Queues {
    lanes: [VecDeque<Job>; 3],
    in_flight: usize,
    passed_over: u32,
    closed: bool,
}

impl Queues {
    fn queued(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }
}

struct Shared {
    config: PoolConfig,
    peppers: Peppers,
    queues: Mutex<Queues>,
    work_ready: Condvar,
    /// Exponentially weighted mean service time of recent jobs, in nanoseconds.
    hash_nanos: AtomicU64,
    /// Argon2 computations actually run (tests count these to prove expired jobs are not hashed).
    computed: AtomicU64,
    metrics: Arc<Metrics>,
}

/// Handle to the pool; cheap to clone. Workers stop when the last handle is dropped.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.queues.lock().closed = true;
        self.0.work_ready.notify_all();
    }
}

impl Pool {
    /// Starts `config.workers` threads. `initial_hash_time` seeds the service-time estimate until
    /// real jobs have been measured.
    ///
    /// # Errors
    /// When a worker thread cannot be spawned.
    pub fn start(
        config: PoolConfig,
        peppers: impl Into<Peppers>,
        initial_hash_time: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            peppers: peppers.into(),
            queues: Mutex::new(Queues::default()),
            work_ready: Condvar::new(),
            hash_nanos: AtomicU64::new(u64::try_from(initial_hash_time.as_nanos()).unwrap_or(u64::MAX)),
            computed: AtomicU64::new(0),
            metrics,
        });
        for i in 0..config.workers.max(1) {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker::run(&shared))?;
        }
        Ok(Self {
            _stop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// Runs `work` in `lane`, or refuses it at once when the pool cannot get to it in time.
    ///
    /// # Errors
    /// [`PoolError::Shed`] at admission, [`PoolError::Expired`] when the deadline passed in the
    /// queue, [`PoolError::Hash`] when argon2 fails.
    pub async fn run(&self, place: impl Into<Place>, work: Work) -> Result<Done, PoolError> {
        let place = place.into();
        let Place { lane, arrival_ms, .. } = place;
        let (reply, done) = oneshot::channel();
        let now = Instant::now();
        {
            let mut q = self.shared.queues.lock();
            if q.closed {
                return Err(PoolError::Closed);
            }
            let held = match self.admit(&q, place) {
                Ok(held) => held,
                Err(retry_after) => {
                    drop(q);
                    return Err(self.shed(lane, retry_after));
                }
            };
            let queue = &mut q.lanes[lane as usize];
            let at = queue.partition_point(|j| j.arrival_ms <= arrival_ms);
            queue.insert(
                at,
                Job {
                    work,
                    lane,
                    arrival_ms,
                    allowed: if held { place.hold } else { self.limit(lane) },
                    held,
                    enqueued: now,
                    deadline: now
                        + self.shared.config.job_deadline
                        + if held { place.hold } else { Duration::ZERO },
                    reply,
                },
            );
            self.displace_overflow(&mut q, lane);
            self.shared.publish_depths(&q);
        }
        self.shared.work_ready.notify_one();
        done.await.map_err(|_| PoolError::Closed)?
    }

    /// After an earlier arrival took its place, the jobs of `lane` that can no longer be served
    /// within what they were admitted to (their lane's budget, or their hold) make room: each is
    /// answered as shed, and its client keeps its own place for its next try. The lane is at most
    /// a few hundred jobs (the hold over the hash time), so one pass over it is cheap beside the
    /// hash that admission is about to run.
    fn displace_overflow(&self, q: &mut Queues, lane: Lane) {
        let mut kept = 0;
        let mut i = 0;
        while i < q.lanes[lane as usize].len() {
            let wait = self.wait_behind(q, lane, kept);
            if wait <= q.lanes[lane as usize][i].allowed {
                kept += 1;
                i += 1;
                continue;
            }
            if let Some(job) = q.lanes[lane as usize].remove(i) {
                self.shared
                    .metrics
                    .hash_jobs
                    .with_label_values(&[lane.as_str(), "displaced"])
                    .inc();
                let retry_after = Duration::from_secs(wait.as_secs() + 1);
                let _ = job.reply.send(Err(PoolError::Shed { retry_after }));
            }
        }
    }

    /// Whether a job at `place` would be admitted right now. Flows call this before their
    /// database work, so that under overload a request is refused before it costs anything; the
    /// real admission in [`Pool::run`] still decides.
    ///
    /// # Errors
    /// [`PoolError::Shed`] with the retry hint when it would not.
    pub fn precheck(&self, place: impl Into<Place>) -> Result<(), PoolError> {
        let place = place.into();
        let q = self.shared.queues.lock();
        match self.admit(&q, place) {
            Ok(_) => Ok(()),
            Err(retry_after) => {
                drop(q);
                Err(self.shed(place.lane, retry_after))
            }
        }
    }

    /// A refusal at admission, counted once whichever door refused it.
    fn shed(&self, lane: Lane, retry_after: Duration) -> PoolError {
        self.shared
            .metrics
            .hash_jobs
            .with_label_values(&[lane.as_str(), "shed"])
            .inc();
        PoolError::Shed { retry_after }
    }

    /// Expected queueing delay for a job with `ahead_in_lane` jobs of its own lane before it:
    /// those, the jobs of the lanes above and those running, spread over W workers at the
    /// measured hash time.
    fn wait_behind(&self, q: &Queues, lane: Lane, ahead_in_lane: usize) -> Duration {
        let above: usize = q.lanes[..lane as usize].iter().map(VecDeque::len).sum();
        let ahead = above + ahead_in_lane + q.in_flight;
        let w = self.shared.config.workers.max(1);
        // Fewer jobs than workers: a worker is free (or about to be) and the wait is ~0.
        let rounds = (ahead + 1).saturating_sub(w);
        #[allow(clippy::cast_precision_loss)]
        let rounds = rounds as f64 / w as f64;
        self.hash_time().mul_f64(rounds)
    }

    /// The wait a job of `lane` may expect and still be admitted.
    fn limit(&self, lane: Lane) -> Duration {
        self.shared.config.queue_budget.mul_f64(lane.budget_share())
    }

    /// Admission by expected wait at the job's place by arrival: a client who came before the
    /// newest jobs waiting goes before them (and they are displaced if that breaks their
    /// budget). `Ok(true)`: admitted on its hold, beyond the budget.
    fn admit(&self, q: &Queues, place: Place) -> Result<bool, Duration> {
        let queue = &q.lanes[place.lane as usize];
        let before = queue.partition_point(|j| j.arrival_ms <= place.arrival_ms);
        let wait = self.wait_behind(q, place.lane, before);
        let limit = self.limit(place.lane);
        if q.queued() >= MAX_QUEUED {
            return Err(Duration::from_secs(wait.as_secs() + 1));
        }
        if wait <= limit {
            return Ok(false);
        }
        if wait <= place.hold {
            return Ok(true);
        }
        // Retry when the backlog ahead should have drained: at least a second (the header's unit).
        Err(Duration::from_secs(wait.as_secs() + 1))
    }

    #[must_use]
    pub fn hash_time(&self) -> Duration {
        Duration::from_nanos(self.shared.hash_nanos.load(Ordering::Relaxed))
    }

    /// Argon2 computations run so far.
    #[must_use]
    pub fn computed(&self) -> u64 {
        self.shared.computed.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn config(&self) -> PoolConfig {
        self.shared.config
    }
}

impl Shared {
    fn publish_depths(&self, q: &Queues) {
        for lane in Lane::ALL {
            let depth = i64::try_from(q.lanes[lane as usize].len()).unwrap_or(i64::MAX);
            self.metrics
                .hash_queue_depth
                .with_label_values(&[lane.as_str()])
                .set(depth);
        }
        self.metrics
            .hash_in_flight
            .set(i64::try_from(q.in_flight).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests;
