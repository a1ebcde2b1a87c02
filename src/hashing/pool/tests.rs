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
    assert!(matches!(shed, Err(PoolError::Shed { retry_after }) if retry_after >= Duration::from_secs(1)));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "shedding must not wait for a worker"
    );
    assert!(matches!(running.await.unwrap(), Ok(Done::Hash(_))));
    assert_eq!(p.computed(), 1, "the shed job was never hashed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_job_is_answered_without_hashing() {
    // A budget no estimate can break (admit everything: on a loaded CI machine the measured
    // hash time of these costly parameters reached seconds, and three of them once passed a
    // 10 s budget, so the job was shed instead of queued), and a deadline far shorter than one
    // (~1 s) hash: the queued jobs expire behind the first. The deadline still leaves the
    // first job 300 ms to be picked up on a busy test machine.
    let p = pool_with(HashParams::new(64 * 1024, 32, 1).unwrap(), 1, 3_600_000, 300);
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
        let answer = q.await.unwrap();
        assert!(
            matches!(answer, Err(PoolError::Expired)),
            "a queued job must expire, got {answer:?}"
        );
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
            arrival_ms: 0,
            allowed: Duration::from_secs(1),
            held: false,
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
    let wait = p.wait_behind(&q, Lane::Confirm, 0);
    assert!(wait > Duration::from_millis(30), "{wait:?}");
    assert!(
        p.admit(&q, Place::from(Lane::Background)).is_err(),
        "background sheds first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_earlier_arrival_goes_first_and_displaces_the_newest_when_full() {
    // One worker and a budget of one and a half hashes: one job may queue behind the running
    // one, a second may not.
    let params = HashParams::new(64 * 1024, 8, 1).unwrap();
    let h = measure(params);
    let p = Pool::start(
        PoolConfig {
            workers: 1,
            queue_budget: h.mul_f64(1.5),
            job_deadline: Duration::from_secs(10),
            params,
        },
        SecretString::new("pool-test-pepper-0123456789abcdef".into()),
        h,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let at = |arrival_ms: u64| Place {
        lane: Lane::Confirm,
        arrival_ms,
        hold: Duration::ZERO,
    };
    let order = Arc::new(Mutex::new(Vec::new()));
    let submit = |arrival: u64, tag: &'static str| {
        let (p, order) = (p.clone(), Arc::clone(&order));
        tokio::spawn(async move {
            let r = p.run(at(arrival), hash_job(tag)).await;
            order.lock().push((tag, r.is_ok()));
        })
    };
    let blocker = submit(5_000, "blocker");
    until_busy(&p).await;
    let newcomer = submit(9_000, "newcomer");
    for _ in 0..5000 {
        if p.shared.queues.lock().queued() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(p.shared.queues.lock().queued(), 1, "the newcomer waits");
    // Full now: a later arrival is refused at once, an earlier one takes the newcomer's place.
    assert!(matches!(p.precheck(at(9_500)), Err(PoolError::Shed { .. })));
    assert!(
        p.precheck(at(1_000)).is_ok(),
        "an earlier arrival would be admitted"
    );
    let returning = submit(1_000, "returning");
    for h in [blocker, newcomer, returning] {
        h.await.unwrap();
    }
    let order = order.lock().clone();
    assert_eq!(
        order,
        vec![("newcomer", false), ("blocker", true), ("returning", true)],
        "the newcomer was displaced at once; the returning client was served"
    );
    assert_eq!(
        p.shared
            .metrics
            .hash_jobs
            .with_label_values(&["confirm", "displaced"])
            .get(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_client_waits_in_the_queue_at_its_place_beyond_the_budget() {
    // One worker and a budget of half a hash: nothing may queue behind the running job, except
    // a returning client whose hold covers the wait.
    let params = HashParams::new(64 * 1024, 8, 1).unwrap();
    let h = measure(params);
    let p = Pool::start(
        PoolConfig {
            workers: 1,
            queue_budget: h.mul_f64(0.5),
            job_deadline: Duration::from_secs(10),
            params,
        },
        SecretString::new("pool-test-pepper-0123456789abcdef".into()),
        h,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let at = |arrival_ms: u64, hold: Duration| Place {
        lane: Lane::Login,
        arrival_ms,
        hold,
    };
    let order = Arc::new(Mutex::new(Vec::new()));
    let submit = |place: Place, tag: &'static str| {
        let (p, order) = (p.clone(), Arc::clone(&order));
        tokio::spawn(async move {
            let r = p.run(place, hash_job(tag)).await;
            order.lock().push((tag, r.is_ok()));
        })
    };
    let long = h * 20;
    let blocker = submit(at(5_000, Duration::ZERO), "blocker");
    until_busy(&p).await;
    assert!(
        matches!(p.precheck(at(1_000, Duration::ZERO)), Err(PoolError::Shed { .. })),
        "without a hold, even an early arrival is refused: the budget is below one hash"
    );
    assert!(
        matches!(p.precheck(at(1_000, h / 4)), Err(PoolError::Shed { .. })),
        "a hold shorter than the wait is no help"
    );
    let second = submit(at(2_000, long), "second");
    for _ in 0..5000 {
        if p.shared.queues.lock().queued() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The earliest comes after the second was queued, and still goes first.
    let first = submit(at(1_000, long), "first");
    for _ in 0..5000 {
        if p.shared.queues.lock().queued() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(p.shared.queues.lock().queued(), 2, "both held, neither displaced");
    assert_eq!(
        p.shared.metrics.hash_lifo_picks.get(),
        0,
        "held jobs are no sign of congestion"
    );
    for j in [blocker, second, first] {
        j.await.unwrap();
    }
    assert_eq!(
        order.lock().clone(),
        vec![("blocker", true), ("first", true), ("second", true)],
        "in arrival order"
    );
}
