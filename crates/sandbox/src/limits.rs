//! Every bound on what one client may cost the sandbox, in one place.
//!
//! The sandbox listens on a port that a runbook's tests, a demo or a CI job share with whatever
//! else runs on the machine, and `sandbox serve` may listen beyond loopback; a client that
//! opens connections and never finishes a request, or promises a body it never sends, must not
//! keep the sandbox from answering everyone else. Each bound sits well above what the SDKs and
//! the runner need (they send a whole request at once, in milliseconds) and well below what
//! would starve the process of file descriptors or tasks.

use std::time::Duration;

/// A request's line and headers must have arrived this long after its first byte did; the
/// connection is closed otherwise. Slowloris clients trickle a header a byte at a time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection with no request in progress (none received yet, or the last answer written)
/// and no byte of the next one is closed after this long. Clients keep connections to reuse;
/// 30 s outlasts their pools' usual gap between polls without hoarding sockets.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request's body must have arrived this long after its headers did; otherwise it is
/// answered 400, as a body that lied about its length.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request body, in bytes; a larger one is answered 413. The largest real body is
/// a workflow input, a few KB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Connections open at once.
///
/// When all are taken and another arrives, the one that has gone longest without a request in
/// progress (idle, or still sending its headers) is closed to make room; only when every
/// connection is in the middle of a request does the newcomer wait for one to end, and those
/// after it wait in the OS backlog. Waiting alone would let 4,096 stalled connections lock
/// everyone out for the 10 s header timeout, again and again; evicting means a stalled
/// connection holds its slot only until someone else needs it, so a normal request is answered
/// however many stalled ones are open. The cost falls on what can bear it: a keep-alive client
/// whose idle connection is closed opens a new one, while a request in progress is never cut
/// off (an evicted connection finishes it first).
pub const MAX_CONNECTIONS: usize = 4_096;

/// The bounds one sandbox applies; `Default` gives the constants above. Tests shorten the
/// timeouts so that they can watch them fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}
