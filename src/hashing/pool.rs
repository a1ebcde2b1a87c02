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
use super::phc::{HashError, PhcString};
use crate::metrics::Metrics;
use crate::secret::SecretString;

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

    /// Share of the queue budget a job of this lane may expect to wait.
    fn budget_share(self) -> f64 {
        match self {
            Self::Confirm => 1.0,
            Self::Login => 0.75,
            Self::Background => 0.25,
        }
    }
}

/// What a job asks of a worker.
pub enum Work {
    Hash {
        password: SecretString,
    },
    /// `pepper = false` verifies a legacy hash made without our pepper.
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
        pepper: &SecretString,
        params: HashParams,
    ) -> Result<Done, HashError> {
        match self {
            Work::Hash { password } => {
                compute::hash(memory, pepper, params, password.expose()).map(Done::Hash)
            }
            Work::Verify {
                password,
                phc,
                peppered,
            } => {
                compute::verify(memory, peppered.then_some(pepper), password.expose(), &phc).map(Done::Verify)
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
    pepper: SecretString,
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
        pepper: SecretString,
        initial_hash_time: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            pepper,
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
                .spawn(move || worker(&shared))?;
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
    pub async fn run(&self, lane: Lane, work: Work) -> Result<Done, PoolError> {
        let (reply, done) = oneshot::channel();
        let now = Instant::now();
        {
            let mut q = self.shared.queues.lock();
            if q.closed {
                return Err(PoolError::Closed);
            }
            if let Err(retry_after) = self.admit(&q, lane) {
                drop(q);
                self.shared
                    .metrics
                    .hash_jobs
                    .with_label_values(&[lane.as_str(), "shed"])
                    .inc();
                return Err(PoolError::Shed { retry_after });
            }
            q.lanes[lane as usize].push_back(Job {
                work,
                lane,
                enqueued: now,
                deadline: now + self.shared.config.job_deadline,
                reply,
            });
            self.shared.publish_depths(&q);
        }
        self.shared.work_ready.notify_one();
        done.await.map_err(|_| PoolError::Closed)?
    }

    /// Whether a job in `lane` would be admitted right now. Flows call this before their
    /// database work, so that under overload a request is refused before it costs anything; the
    /// real admission in [`Pool::run`] still decides.
    ///
    /// # Errors
    /// [`PoolError::Shed`] with the retry hint when it would not.
    pub fn precheck(&self, lane: Lane) -> Result<(), PoolError> {
        let q = self.shared.queues.lock();
        self.admit(&q, lane).map_err(|retry_after| {
            drop(q);
            self.shared
                .metrics
                .hash_jobs
                .with_label_values(&[lane.as_str(), "shed"])
                .inc();
            PoolError::Shed { retry_after }
        })
    }

    /// Expected queueing delay for a new job in `lane`: the jobs it would wait behind (queued in
    /// its lane or above, plus those running) spread over W workers at the measured hash time.
    fn expected_wait(&self, q: &Queues, lane: Lane) -> Duration {
        let ahead: usize = q.lanes[..=lane as usize].iter().map(VecDeque::len).sum::<usize>() + q.in_flight;
        let w = self.shared.config.workers.max(1);
        // Fewer jobs than workers: a worker is free (or about to be) and the wait is ~0.
        let rounds = (ahead + 1).saturating_sub(w);
        #[allow(clippy::cast_precision_loss)]
        let rounds = rounds as f64 / w as f64;
        self.hash_time().mul_f64(rounds)
    }

    fn admit(&self, q: &Queues, lane: Lane) -> Result<(), Duration> {
        let wait = self.expected_wait(q, lane);
        let limit = self.shared.config.queue_budget.mul_f64(lane.budget_share());
        if wait <= limit && q.queued() < MAX_QUEUED {
            return Ok(());
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

    /// Answers every job that can no longer be useful: deadline passed, or the caller is gone.
    fn reap(&self, q: &mut Queues, now: Instant) {
        for lane in Lane::ALL {
            let queue = &mut q.lanes[lane as usize];
            let mut kept = VecDeque::with_capacity(queue.len());
            for job in queue.drain(..) {
                if job.reply.is_closed() {
                    self.metrics
                        .hash_jobs
                        .with_label_values(&[lane.as_str(), "abandoned"])
                        .inc();
                } else if job.deadline <= now {
                    self.metrics
                        .hash_jobs
                        .with_label_values(&[lane.as_str(), "expired"])
                        .inc();
                    let _ = job.reply.send(Err(PoolError::Expired));
                } else {
                    kept.push_back(job);
                }
            }
            *queue = kept;
        }
    }

    /// Picks the next job per the lane rules (see the module docs).
    fn pick(&self, q: &mut Queues, now: Instant) -> Option<Job> {
        let highest = Lane::ALL.into_iter().find(|l| !q.lanes[*l as usize].is_empty())?;
        let lower_waiting = Lane::ALL
            .into_iter()
            .filter(|l| *l > highest)
            .find(|l| !q.lanes[*l as usize].is_empty());
        let lane = match lower_waiting {
            Some(_) if q.passed_over >= STARVATION_LIMIT => {
                q.passed_over = 0;
                // The lower lane whose head has waited longest.
                Lane::ALL
                    .into_iter()
                    .filter(|l| *l > highest)
                    .filter_map(|l| q.lanes[l as usize].front().map(|j| (j.enqueued, l)))
                    .min()
                    .map_or(highest, |(_, l)| l)
            }
            Some(_) => {
                q.passed_over += 1;
                highest
            }
            None => {
                q.passed_over = 0;
                highest
            }
        };
        let queue = &mut q.lanes[lane as usize];
        let congested = queue
            .front()
            .is_some_and(|j| now.duration_since(j.enqueued) > self.config.job_deadline / 2);
        if congested {
            self.metrics.hash_lifo_picks.inc();
            queue.pop_back()
        } else {
            queue.pop_front()
        }
    }

    fn record_hash_time(&self, took: Duration) {
        // EWMA with weight 1/8: follows CPU contention within a few dozen jobs without jitter.
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.hash_nanos.load(Ordering::Relaxed);
        let new = old - old / 8 + sample / 8;
        self.hash_nanos.store(new, Ordering::Relaxed);
    }
}

/// Hash workers run as SCHED_BATCH with a low priority: on a saturated host the scheduler then
/// lets the async runtime preempt them, so shedding and probes stay fast while hashing takes
/// every cycle that is left. Best effort: where the OS refuses, workers keep the default.
fn lower_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy, ThreadPriority,
        ThreadPriorityValue, ThreadSchedulePolicy,
    };
    let Ok(low) = ThreadPriorityValue::try_from(10u8) else {
        return;
    };
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    if let Err(e) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Crossplatform(low), policy)
    {
        tracing::debug!(error = ?e, "could not lower the hash worker's priority");
    }
}

fn worker(shared: &Shared) {
    lower_priority();
    let mut memory = compute::memory_for(shared.config.params);
    loop {
        let job = {
            let mut q = shared.queues.lock();
            loop {
                let now = Instant::now();
                shared.reap(&mut q, now);
                if let Some(job) = shared.pick(&mut q, now) {
                    q.in_flight += 1;
                    shared.publish_depths(&q);
                    break job;
                }
                shared.publish_depths(&q);
                if q.closed {
                    return;
                }
                shared.work_ready.wait(&mut q);
            }
        };
        let lane = job.lane.as_str();
        shared
            .metrics
            .hash_queue_wait
            .with_label_values(&[lane])
            .observe(job.enqueued.elapsed().as_secs_f64());
        let started = Instant::now();
        let result = job.work.run(&mut memory, &shared.pepper, shared.config.params);
        let took = started.elapsed();
        shared.computed.fetch_add(1, Ordering::Relaxed);
        // A failure (e.g. a corrupt stored hash) returns early: it is neither a hash-time sample
        // (it would pull the estimate down and admit too much) nor completed work.
        let outcome = if result.is_ok() {
            shared.record_hash_time(took);
            shared
                .metrics
                .hash_duration
                .with_label_values(&[lane])
                .observe(took.as_secs_f64());
            "completed"
        } else {
            "failed"
        };
        shared.metrics.hash_jobs.with_label_values(&[lane, outcome]).inc();
        {
            let mut q = shared.queues.lock();
            q.in_flight -= 1;
            shared.publish_depths(&q);
        }
        let _ = job.reply.send(result.map_err(PoolError::Hash));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::compute;

    /// Costlier than production so a single job keeps the one worker busy long enough (~100 ms)
    /// for the test to arrange the queue behind it.
    fn slow_params() -> HashParams {
        HashParams::new(64 * 1024, 3, 1).unwrap()
    }

    fn pool(workers: usize, budget_ms: u64, deadline_ms: u64) -> Pool {
        pool_with(slow_params(), workers, budget_ms, deadline_ms)
    }

    fn pool_with(params: HashParams, workers: usize, budget_ms: u64, deadline_ms: u64) -> Pool {
        Pool::start(
            PoolConfig {
                workers,
                queue_budget: Duration::from_millis(budget_ms),
                job_deadline: Duration::from_millis(deadline_ms),
                params,
            },
            SecretString::new("pool-test-pepper-0123456789abcdef".into()),
            measure(params),
            Arc::new(Metrics::new()),
        )
        .unwrap()
    }

    fn measure(params: HashParams) -> Duration {
        let mut mem = compute::memory_for(params);
        let pepper = SecretString::new("x".repeat(32));
        let started = Instant::now();
        compute::hash(&mut mem, &pepper, params, "warm up").unwrap();
        started.elapsed()
    }

    fn hash_job(tag: &str) -> Work {
        Work::Hash {
            password: SecretString::new(format!("password for {tag}")),
        }
    }

    /// Waits until the pool's one worker has taken a job, so what follows queues behind it.
    async fn until_busy(p: &Pool) {
        // Generous: on a loaded test machine a low-priority worker may wait to be scheduled.
        for _ in 0..5000 {
            if p.shared.queues.lock().in_flight > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("worker never started");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_full_queue_sheds_at_once_with_retry_after() {
        // Zero budget: with one (~0.5 s) job running, the next must be refused, and at once.
        let p = pool_with(HashParams::new(64 * 1024, 16, 1).unwrap(), 1, 0, 10_000);
        let p1 = p.clone();
        let running = tokio::spawn(async move { p1.run(Lane::Confirm, hash_job("a")).await });
        until_busy(&p).await;
        let started = Instant::now();
        let shed = p.run(Lane::Confirm, hash_job("b")).await;
        assert!(
            matches!(shed, Err(PoolError::Shed { retry_after }) if retry_after >= Duration::from_secs(1))
        );
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "shedding must not wait for a worker"
        );
        assert!(matches!(running.await.unwrap(), Ok(Done::Hash(_))));
        assert_eq!(p.computed(), 1, "the shed job was never hashed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_expired_job_is_answered_without_hashing() {
        // Generous budget (admit everything), a deadline far shorter than one (~1 s) hash: the
        // queued jobs expire behind the first. The deadline still leaves the first job 300 ms to
        // be picked up on a busy test machine.
        let p = pool_with(HashParams::new(64 * 1024, 32, 1).unwrap(), 1, 10_000, 300);
        let p1 = p.clone();
        let first = tokio::spawn(async move { p1.run(Lane::Confirm, hash_job("first")).await });
        until_busy(&p).await;
        let queued: Vec<_> = (0..3)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move { p.run(Lane::Confirm, hash_job(&i.to_string())).await })
            })
            .collect();
        for q in queued {
            assert!(matches!(q.await.unwrap(), Err(PoolError::Expired)));
        }
        assert!(first.await.unwrap().is_ok());
        assert_eq!(p.computed(), 1, "expired jobs must not be hashed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn lanes_are_served_in_priority_order() {
        // Each job ~0.3 s, so the three below are queued long before the blocker finishes.
        let p = pool_with(HashParams::new(64 * 1024, 8, 1).unwrap(), 1, 10_000, 10_000);
        let order = Arc::new(Mutex::new(Vec::new()));
        let submit = |lane: Lane, tag: &'static str| {
            let (p, order) = (p.clone(), Arc::clone(&order));
            tokio::spawn(async move {
                p.run(lane, hash_job(tag)).await.unwrap();
                order.lock().push(tag);
            })
        };
        let blocker = submit(Lane::Login, "blocker");
        until_busy(&p).await;
        // Queued lowest first; must be served highest first.
        let jobs = vec![
            submit(Lane::Background, "background"),
            submit(Lane::Login, "login"),
            submit(Lane::Confirm, "confirm"),
        ];
        for _ in 0..5000 {
            if p.shared.queues.lock().queued() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            p.shared.queues.lock().in_flight,
            1,
            "the blocker is still running"
        );
        blocker.await.unwrap();
        for j in jobs {
            j.await.unwrap();
        }
        assert_eq!(*order.lock(), vec!["blocker", "confirm", "login", "background"]);
    }

    #[test]
    fn a_waiting_lower_lane_is_passed_over_at_most_the_starvation_limit() {
        let shared = pool(1, 10_000, 10_000).shared;
        let mut q = Queues::default();
        let now = Instant::now();
        let job = |lane: Lane| {
            let (reply, _rx) = oneshot::channel();
            Job {
                work: hash_job("x"),
                lane,
                enqueued: now,
                deadline: now + Duration::from_secs(60),
                reply,
            }
        };
        q.lanes[Lane::Background as usize].push_back(job(Lane::Background));
        for _ in 0..20 {
            q.lanes[Lane::Confirm as usize].push_back(job(Lane::Confirm));
        }
        let picks: Vec<Lane> = (0..=STARVATION_LIMIT)
            .map(|_| shared.pick(&mut q, now).unwrap().lane)
            .collect();
        let first_background = picks.iter().position(|l| *l == Lane::Background);
        assert_eq!(first_background, Some(STARVATION_LIMIT as usize), "{picks:?}");
    }

    #[test]
    fn lower_lanes_are_shed_first() {
        let p = pool(1, 100, 10_000);
        let q = Queues {
            in_flight: 1,
            ..Queues::default()
        };
        // One job running: a new job waits one hash time (~100 ms with slow params).
        let wait = p.expected_wait(&q, Lane::Confirm);
        assert!(wait > Duration::from_millis(30), "{wait:?}");
        assert!(p.admit(&q, Lane::Background).is_err(), "background sheds first");
    }
}
