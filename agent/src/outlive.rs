//! Work that must finish even when its caller stops waiting: a decision, its upstream call and its
//! audit row go on when the client disconnects. The work is polled in place while the caller waits
//! (no task, no hand-off to another worker thread on every request); if the caller is dropped
//! first, what is left of it runs to the end in a task of its own.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The work panicked (it is not run any further).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

type Work<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// `work`, run to its end whether or not the returned future is awaited to its end. The work is
/// boxed once: when the caller goes, the box moves into a task as a pointer, the work in place.
pub fn outliving_the_caller<T, F>(work: F) -> OutlivingTheCaller<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    OutlivingTheCaller {
        work: Some(Box::pin(work)),
    }
}

pub struct OutlivingTheCaller<T: Send + 'static> {
    /// `None` once the work finished or panicked.
    work: Option<Work<T>>,
}

impl<T: Send + 'static> Future for OutlivingTheCaller<T> {
    type Output = Result<T, Panicked>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Ready(Err(Panicked));
        };
        // A panic is caught here as a spawned task's would be: the caller gets an error response.
        match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(context))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.work = None;
                Poll::Ready(Ok(output))
            }
            Err(_) => {
                self.work = None;
                Poll::Ready(Err(Panicked))
            }
        }
    }
}

impl<T: Send + 'static> Drop for OutlivingTheCaller<T> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            // Dropped outside a runtime (only at process exit) the work is dropped with it.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = work.await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// The test's own thread is not a worker: work spawned as a task would run elsewhere.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_work_runs_in_place_and_gives_its_output() {
        let thread = std::thread::current().id();
        let output = outliving_the_caller(async move {
            tokio::task::yield_now().await;
            std::thread::current().id() == thread
        })
        .await;
        assert_eq!(output, Ok(true));
    }

    #[tokio::test]
    async fn the_work_finishes_when_the_caller_is_dropped_half_way() {
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let flag = Arc::clone(&finished);
        let caller = tokio::spawn(outliving_the_caller(async move {
            let _ = started_tx.send(());
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        }));
        started_rx.await.expect("the work started");
        caller.abort();
        assert!(caller.await.expect_err("aborted").is_cancelled());
        assert!(!finished.load(Ordering::SeqCst));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !finished.load(Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the work did not finish"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_crash() {
        let output = outliving_the_caller(async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("boom");
            }
            1
        })
        .await;
        assert_eq!(output, Err(Panicked));
    }
}
