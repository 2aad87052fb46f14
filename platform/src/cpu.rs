//! CPU-heavy work (policy evaluation of large texts, policy compilation) runs on the blocking pool,
//! at most `permits` jobs at a time, so that the async workers stay free for small requests while
//! large prompts are in flight. Small jobs run inline: a thread hop costs more than they do.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Below this cost, in bytes of prose (`axonflow_policy::evaluation_cost`), evaluation runs inline on
/// the async worker: a hundred microseconds or so of prose; the costliest shapes a random search
/// found take a few milliseconds (32 KB of `||`, or of `union select` repeated), where sizing by
/// length let 30 KB of `' or '` hold a worker for 50 ms.
pub const INLINE_BYTES: usize = 32 * 1024;

#[derive(Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
}

/// The job panicked or the runtime is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFailed;

impl CpuPool {
    /// One job per core but one, at least one: a core stays free for the async workers.
    pub fn for_this_machine() -> CpuPool {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        CpuPool {
            permits: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
        }
    }

    /// Runs `job` inline when `cost_bytes` is small, else on the blocking pool once a permit is free.
    /// For policy evaluation, `cost_bytes` is `axonflow_policy::evaluation_cost`, not the length.
    pub async fn run<R, F>(&self, cost_bytes: usize, job: F) -> Result<R, JobFailed>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        if cost_bytes < INLINE_BYTES {
            return Ok(job());
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| JobFailed)?;
        tokio::task::spawn_blocking(move || {
            let result = job();
            drop(permit);
            result
        })
        .await
        .map_err(|_| JobFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_jobs_run_inline_and_costly_ones_on_the_blocking_pool() {
        let pool = CpuPool::for_this_machine();
        let caller = std::thread::current().id();
        let inline = pool
            .run(INLINE_BYTES - 1, move || {
                std::thread::current().id() == caller
            })
            .await;
        assert_eq!(inline, Ok(true));
        let caller = std::thread::current().id();
        let pooled = pool
            .run(INLINE_BYTES, move || std::thread::current().id() == caller)
            .await;
        assert_eq!(pooled, Ok(false));
    }
}
