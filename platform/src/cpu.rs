//! CPU-heavy work (policy evaluation of large texts, policy compilation) runs on the blocking pool,
//! at most one job per core but one at a time in each of two lanes, so that the async workers stay
//! free for small requests while large prompts are in flight. Small jobs run inline: a thread hop
//! costs more than they do.
//!
//! The lanes keep ordinary costly work (a JSON tool result, a long document, a compilation) from
//! waiting behind the costliest texts: a megabyte dense with quotes and escapes takes seconds of one
//! core to judge, and one client can send several. Jobs estimated at `HEAVY_BYTES` or more run in
//! a lane of their own, and there each owner (a tenant) has at most one job running or queued for a
//! slot: one tenant's burst of such texts delays another tenant's by at most one job, not by the
//! whole burst.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Below this cost, in bytes of prose (`axonflow_policy::evaluation_cost`), evaluation runs inline on
/// the async worker: a hundred microseconds or so of prose; the costliest shapes a random search
/// found take a few milliseconds (32 KB of `||`, or of `union select` repeated), where sizing by
/// length let 30 KB of `' or '` hold a worker for 50 ms.
pub const INLINE_BYTES: usize = 32 * 1024;

/// From this cost on, a job runs in the heavy lane: tens of milliseconds of evaluation (4 MB of
/// prose, 100 KB of JSON) up to seconds (a megabyte of `"&`).
pub const HEAVY_BYTES: usize = 4 * 1024 * 1024;

/// The cost to give work that always belongs on the pool but is bounded by what the service
/// accepts, not by a client's text (compiling policies): the ordinary lane.
pub const ON_THE_POOL: usize = INLINE_BYTES;

#[derive(Clone)]
pub struct CpuPool {
    lanes: Arc<Lanes>,
}

struct Lanes {
    ordinary: Arc<Semaphore>,
    heavy: Arc<Semaphore>,
    /// Owners with a job in the heavy lane (running or waiting), and their turn: one job at a time.
    heavy_owners: Mutex<HashMap<String, Owner>>,
}

struct Owner {
    turn: Arc<Semaphore>,
    /// Jobs of this owner in the heavy lane; the entry goes with the last.
    jobs: usize,
}

/// An owner's job in the heavy lane, from the moment it asks for its turn until it ends (or its
/// caller gives up waiting): the owner's entry is removed with its last job.
struct HeavyJob {
    lanes: Arc<Lanes>,
    owner: String,
}

impl Drop for HeavyJob {
    fn drop(&mut self) {
        let mut owners = self
            .lanes
            .heavy_owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = owners.get_mut(&self.owner) {
            entry.jobs -= 1;
            if entry.jobs == 0 {
                owners.remove(&self.owner);
            }
        }
    }
}

/// The job panicked or the runtime is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFailed;

impl CpuPool {
    /// One job per core but one in each lane, at least one: a core stays free for the async
    /// workers unless both lanes are busy.
    pub fn for_this_machine() -> CpuPool {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let per_lane = cores.saturating_sub(1).max(1);
        CpuPool::with_slots(per_lane, per_lane)
    }

    /// `ordinary` and `heavy` jobs at a time in each lane (at least one).
    fn with_slots(ordinary: usize, heavy: usize) -> CpuPool {
        CpuPool {
            lanes: Arc::new(Lanes {
                ordinary: Arc::new(Semaphore::new(ordinary.max(1))),
                heavy: Arc::new(Semaphore::new(heavy.max(1))),
                heavy_owners: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Runs `job` inline when `cost_bytes` is small, else on the blocking pool once a slot of its
    /// lane is free. For policy evaluation, `cost_bytes` is `axonflow_policy::evaluation_cost`, not
    /// the length. Heavy jobs of callers that name no owner share one turn.
    pub async fn run<R, F>(&self, cost_bytes: usize, job: F) -> Result<R, JobFailed>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        self.run_for("", cost_bytes, job).await
    }

    /// `run`, for `owner` (a tenant): in the heavy lane, each owner's jobs take their turn one at a
    /// time.
    pub async fn run_for<R, F>(
        &self,
        owner: &str,
        cost_bytes: usize,
        job: F,
    ) -> Result<R, JobFailed>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        if cost_bytes < INLINE_BYTES {
            return Ok(job());
        }
        if cost_bytes < HEAVY_BYTES {
            let slot = acquire(&self.lanes.ordinary).await?;
            return on_the_pool(job, slot).await;
        }
        let (heavy_job, turn) = self.heavy_turn(owner);
        // Waiting for the owner's turn, then for a slot; a caller that gives up leaves both queues.
        let turn = acquire(&turn).await?;
        let slot = acquire(&self.lanes.heavy).await?;
        on_the_pool(job, (slot, turn, heavy_job)).await
    }

    fn heavy_turn(&self, owner: &str) -> (HeavyJob, Arc<Semaphore>) {
        let mut owners = self
            .lanes
            .heavy_owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = owners.entry(owner.to_owned()).or_insert_with(|| Owner {
            turn: Arc::new(Semaphore::new(1)),
            jobs: 0,
        });
        entry.jobs += 1;
        let turn = entry.turn.clone();
        drop(owners);
        let heavy_job = HeavyJob {
            lanes: self.lanes.clone(),
            owner: owner.to_owned(),
        };
        (heavy_job, turn)
    }

    /// Owners with a job in the heavy lane.
    #[cfg(test)]
    fn heavy_owners(&self) -> usize {
        self.lanes
            .heavy_owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

async fn acquire(semaphore: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, JobFailed> {
    semaphore
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| JobFailed)
}

/// Runs `job` on the blocking pool; what it holds (its slot, its owner's turn) is released when the
/// job ends, even if the caller stopped waiting for it.
async fn on_the_pool<R, F, H>(job: F, held: H) -> Result<R, JobFailed>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
    H: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let result = job();
        drop(held);
        result
    })
    .await
    .map_err(|_| JobFailed)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_jobs_run_inline_and_costly_ones_on_the_blocking_pool() {
        let pool = CpuPool::for_this_machine();
        for (cost, inline) in [
            (INLINE_BYTES - 1, true),
            (INLINE_BYTES, false),
            (HEAVY_BYTES, false),
        ] {
            let caller = std::thread::current().id();
            let ran = pool
                .run(cost, move || std::thread::current().id() == caller)
                .await;
            assert_eq!(ran, Ok(inline), "cost {cost}");
        }
        assert_eq!(pool.heavy_owners(), 0);
    }

    /// A job on the pool that runs until told to end.
    struct Held {
        end: mpsc::Sender<()>,
        task: tokio::task::JoinHandle<()>,
        started: tokio::sync::oneshot::Receiver<()>,
    }

    impl Held {
        fn submit(pool: &CpuPool, owner: &str, cost: usize) -> Held {
            let (end, wait) = mpsc::channel::<()>();
            let (on_start, started) = tokio::sync::oneshot::channel();
            let (pool, owner) = (pool.clone(), owner.to_owned());
            let task = tokio::spawn(async move {
                let _ = pool
                    .run_for(&owner, cost, move || {
                        let _ = on_start.send(());
                        let _ = wait.recv_timeout(Duration::from_secs(10));
                    })
                    .await;
            });
            Held { end, task, started }
        }

        /// Waits (at most five seconds) until the job runs.
        async fn runs(&mut self, what: &str) {
            tokio::time::timeout(Duration::from_secs(5), &mut self.started)
                .await
                .unwrap_or_else(|_| panic!("{what} never started"))
                .unwrap_or_else(|_| panic!("{what} ended without starting"));
        }

        fn has_started(&mut self) -> bool {
            self.started.try_recv().is_ok()
        }

        async fn finish(self) {
            self.end.send(()).expect("the job waits to be ended");
            self.task.await.expect("the job ends");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ordinary_costly_jobs_do_not_wait_behind_a_heavy_one() {
        let pool = CpuPool::with_slots(1, 1);
        let mut heavy = Held::submit(&pool, "a", HEAVY_BYTES);
        heavy.runs("the heavy job").await;
        let ordinary = tokio::time::timeout(
            Duration::from_secs(5),
            pool.run_for("b", INLINE_BYTES, || 7),
        )
        .await;
        assert_eq!(ordinary.ok(), Some(Ok(7)));
        heavy.finish().await;
        assert_eq!(pool.heavy_owners(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_the_heavy_lane_each_owner_waits_behind_its_own_jobs() {
        let pool = CpuPool::with_slots(1, 1);
        // Owner a: one job running, one waiting for its turn.
        let mut first = Held::submit(&pool, "a", HEAVY_BYTES);
        first.runs("a's first job").await;
        let mut second = Held::submit(&pool, "a", HEAVY_BYTES);
        // Owner b asks after a's second job, and runs before it.
        let mut b = Held::submit(&pool, "b", HEAVY_BYTES);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.heavy_owners(), 2);
        first.finish().await;
        b.runs("b's job").await;
        assert!(!second.has_started(), "a's second job waits for b's");
        b.finish().await;
        second.runs("a's second job").await;
        second.finish().await;
        assert_eq!(pool.heavy_owners(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_leaves_no_owner_behind() {
        let pool = CpuPool::with_slots(1, 1);
        let mut first = Held::submit(&pool, "a", HEAVY_BYTES);
        first.runs("the first job").await;
        // Waits for its turn, then gives up.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            pool.run_for("c", HEAVY_BYTES, || ()),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(pool.heavy_owners(), 1);
        first.finish().await;
        assert_eq!(pool.heavy_owners(), 0);
    }
}
