//! The accept loop and the life of one connection: the bounds of `limits` applied to clients
//! that connect and then stall.
//!
//! hyper has one timer for the gap before a request's headers are complete, and it starts
//! when the connection goes idle, so it cannot give a stalled header less time than an idle
//! keep-alive connection (hyper#3828). Each connection here has a watchdog instead, fed by its
//! socket (the first byte of a request) and its service (a request begins, its answer has been
//! written), that closes it when the phase it is in has lasted too long.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

use crate::limits::ConnectionLimits;

/// How long the accept loop pauses after an error that is not one connection's (out of file
/// descriptors, mostly), so it does not spin while a connection it evicted closes.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `stop` resolves, then lets requests in progress finish
/// and returns once every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let capacity = limits.max_connections.clamp(1, u32::MAX as usize);
    let registry = Arc::new(Registry {
        slots: Arc::new(Semaphore::new(capacity)),
        open: Mutex::default(),
        next_id: AtomicU64::new(0),
    });
    let (closing, closing_seen) = watch::channel(());
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before it was accepted; nothing is wrong with the listener.
            Err(error) if is_connection_error(&error) => continue,
            Err(_) => {
                // The process is out of descriptors: the newcomer waits in the backlog while
                // a connection that is doing nothing makes room.
                registry.evict_longest_idle();
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                }
            }
        };
        let permit = match registry.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Full: see `limits::MAX_CONNECTIONS` for why an idle connection goes first.
                registry.evict_longest_idle();
                tokio::select! {
                    () = &mut stop => break,
                    permit = registry.slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            Slot::take(&registry, permit),
            closing_seen.clone(),
        ));
    }
    drop(listener);
    closing.send_replace(());
    // Each connection holds a slot until it has closed, so holding them all means all have.
    let _all_closed = registry.slots.acquire_many(capacity as u32).await;
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The open connections, for eviction, and the slots that bound their number.
#[derive(Debug)]
struct Registry {
    slots: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Tracker>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the connection that has gone longest without a request in progress, if any.
    fn evict_longest_idle(&self) {
        let open = self.open();
        let victim = open
            .values()
            .filter_map(|tracker| {
                let phase = tracker.phase();
                (phase.in_flight == 0 && !phase.evicted).then_some((phase.idle_since, tracker))
            })
            .min_by_key(|(idle_since, _)| *idle_since);
        if let Some((_, tracker)) = victim {
            tracker.evict();
        }
    }
}

/// A connection's place in the registry; leaving it, however the connection ends, frees the
/// slot.
struct Slot {
    id: u64,
    tracker: Arc<Tracker>,
    registry: Arc<Registry>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    fn take(registry: &Arc<Registry>, permit: OwnedSemaphorePermit) -> Self {
        let tracker = Arc::new(Tracker::new());
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        registry.open().insert(id, tracker.clone());
        Self {
            id,
            tracker,
            registry: registry.clone(),
            _permit: permit,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.open().remove(&self.id);
    }
}

/// Where a connection is between requests, as its watchdog and the eviction need to know.
#[derive(Debug)]
struct Phase {
    /// Requests handed to the router whose answers have not been written out yet.
    in_flight: usize,
    /// Since when no request has been in progress.
    idle_since: Instant,
    /// When the first byte of the next request arrived, if one has.
    head_started: Option<Instant>,
    evicted: bool,
}

#[derive(Debug)]
struct Tracker {
    phase: Mutex<Phase>,
    /// Wakes the watchdog when the deadline may have moved.
    changed: Notify,
}

impl Tracker {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase {
                in_flight: 0,
                idle_since: Instant::now(),
                head_started: None,
                evicted: false,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_started.is_none() {
            phase.head_started = Some(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.head_started = None;
        drop(phase);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn evict(&self) {
        self.phase().evicted = true;
        self.changed.notify_one();
    }

    fn evicted(&self) -> bool {
        self.phase().evicted
    }

    /// Whether part of a request, and no whole one, has arrived.
    fn sending_head(&self) -> bool {
        let phase = self.phase();
        phase.in_flight == 0 && phase.head_started.is_some()
    }

    /// When the connection is closed unless its phase changes first. `None` while a request
    /// is in progress: its body has its own timeout, and the handler is the sandbox's own.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let phase = self.phase();
        if phase.in_flight > 0 {
            None
        } else if let Some(started) = phase.head_started {
            Some(started + limits.header_timeout)
        } else {
            Some(phase.idle_since + limits.idle_timeout)
        }
    }
}

/// A request in progress on a connection, until its answer has been written out or dropped.
struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.idle_since = Instant::now();
            phase.head_started = None;
        }
        drop(phase);
        self.0.changed.notify_one();
    }
}

/// An answer's body, carrying the request's `InFlight` so the connection counts as busy until
/// hyper has taken the last of it.
struct Answer {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the tracker when a request's first byte arrives.
struct Watched {
    stream: TcpStream,
    tracker: Arc<Tracker>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.tracker.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves one connection until the client closes it, its watchdog does, or it is evicted or
/// the sandbox shuts down and its request in progress (if any) has been answered.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    slot: Slot,
    mut closing: watch::Receiver<()>,
) {
    let tracker = slot.tracker.clone();
    let service = {
        let tracker = tracker.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            // The handlers read the peer as axum's `ConnectInfo` (inspection is loopback-only).
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = tracker.request_started();
            let mut router = router.clone();
            async move {
                let response = router.call(request).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| Answer {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let io = TokioIo::new(Watched {
        stream,
        tracker: tracker.clone(),
    });
    // The watchdog times headers; hyper's own timer would also cut idle connections short.
    let served = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(served);
    // Evicted, or the sandbox is shutting down.
    let mut leaving = false;
    let mut draining = false;
    loop {
        leaving |= tracker.evicted();
        if leaving {
            // hyper's graceful shutdown lets a request in progress finish and closes an idle
            // connection at once, but waits for the headers of a connection's first request
            // to complete: half a request is worth nothing, so that one is dropped here.
            if tracker.sending_head() {
                break;
            }
            if !draining {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
        }
        let deadline = tracker.deadline(&limits);
        let changed = tracker.changed.notified();
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // In this order: when the task runs late, bytes that arrived before the deadline are
        // read (and move it) before the deadline is held against the connection.
        tokio::select! {
            biased;
            // Errors are the client's (a reset, a malformed request hyper answered itself).
            _ = served.as_mut() => break,
            () = changed => {}
            _ = closing.changed(), if !leaving => leaving = true,
            () = expired => break,
        }
    }
    // `slot`, a parameter, outlives `served`: the socket is closed before its slot is freed.
}
