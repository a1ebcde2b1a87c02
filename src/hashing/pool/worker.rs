//! The worker side of the pool: each dedicated thread reaps the jobs that can no longer be
//! useful, picks the next one by the lane rules (see the parent module), hashes it on its own
//! memory block and feeds the measured time back into admission.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Job, Lane, PoolError, Queues, Shared, STARVATION_LIMIT};
use crate::hashing::compute;

impl Shared {
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
    pub(super) fn pick(&self, q: &mut Queues, now: Instant) -> Option<Job> {
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
        // The lane is ordered by arrival, so its longest-queued job may be anywhere in it. Held
        // jobs were admitted to wait longer; their wait says nothing about the estimate.
        let congested = queue
            .iter()
            .filter(|j| !j.held)
            .map(|j| j.enqueued)
            .min()
            .is_some_and(|e| now.duration_since(e) > self.config.job_deadline / 2);
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

pub(super) fn run(shared: &Shared) {
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
        let result = job.work.run(&mut memory, &shared.peppers, shared.config.params);
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
