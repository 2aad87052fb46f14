//! Load shedding: at most `max` requests are served at once by one process; one more is answered
//! 503 with `Retry-After` at once (never queued), and counted. `/health` and `/metrics` are never
//! shed, so that an overloaded service can still be watched. A request holds its slot until its
//! handler has produced the response head; a handler whose work outlives the request (a task that
//! must finish after a client disconnects) keeps the slot by holding a clone of the request's
//! `InFlightSlot` until that work ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// Paths that are served whatever the load.
const NEVER_SHED: &[&str] = &["/health", "/metrics"];

/// Seconds a shed client is asked to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Writes the refusal in the shape of the endpoint at `path` (the status is set to 503 after).
pub type RenderShed = fn(path: &str, max_in_flight: usize) -> Response;

/// A request's slot, in its extensions: the slot is free again when every clone is dropped.
#[derive(Clone)]
pub struct InFlightSlot(
    #[expect(dead_code, reason = "held, never read: dropping it frees the slot")]
    Arc<tokio::sync::OwnedSemaphorePermit>,
);

/// The limit, shared by the layer and `/metrics`.
#[derive(Clone)]
pub struct InFlightLimit {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    slots: Arc<Semaphore>,
    shed: AtomicU64,
    render: RenderShed,
}

impl InFlightLimit {
    pub fn new(max: usize, render: RenderShed) -> InFlightLimit {
        InFlightLimit {
            inner: Arc::new(Inner {
                max,
                slots: Arc::new(Semaphore::new(max)),
                shed: AtomicU64::new(0),
                render,
            }),
        }
    }

    /// Requests refused so far.
    pub fn shed_total(&self) -> u64 {
        self.inner.shed.load(Ordering::Relaxed)
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.inner
            .max
            .saturating_sub(self.inner.slots.available_permits())
    }

    pub fn max(&self) -> usize {
        self.inner.max
    }
}

/// The layer: `axum::middleware::from_fn_with_state(limit, limit_in_flight)`.
pub async fn limit_in_flight(
    State(limit): State<InFlightLimit>,
    mut request: Request,
    next: Next,
) -> Response {
    if NEVER_SHED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(slot) = limit.inner.slots.clone().try_acquire_owned() else {
        limit.inner.shed.fetch_add(1, Ordering::Relaxed);
        let mut response = (limit.inner.render)(request.uri().path(), limit.inner.max);
        *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        return response;
    };
    let slot = InFlightSlot(Arc::new(slot));
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    drop(slot);
    response
}
