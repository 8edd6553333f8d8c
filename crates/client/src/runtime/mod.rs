//! The hand-written runtime the generated client calls into: transport (endpoints, signing,
//! retries), errors, credentials, injectable time, waiters and the catalogue's types.

mod backoff;
mod credentials;
mod environment;
mod error;
mod invoke;
mod meta;
mod request;
mod transport;
mod validate;
mod virtual_time;
mod waiter;

pub use backoff::{exponential, full_jitter, poll_delay};
pub use credentials::{env as credential_env, Credentials, CredentialsError, Secret};
pub use environment::{
    saturating_after, saturating_before, Clock, Environment, Random, SeededRandom, SleepFuture,
    Sleeper,
};
pub use error::{ApiError, HttpError, InvokeError, ServiceError, TransportErrorKind};
pub use invoke::{into_json_response, parse_params};
pub use meta::{
    BodyMeta, HttpMethod, OperationMeta, ParamKind, ParamLocation, ParamMeta, ServiceMeta,
    UnknownOperation,
};
pub use request::{path_segment_problem, ApiResponse, Request};
pub use transport::{
    AttemptEvent, AttemptOutcome, CallLimits, Middleware, RetryPolicy, Transport, TransportBuilder,
    TransportConfig,
};
pub use validate::{check_length, check_range};
pub use virtual_time::{InFlight, Participant, VirtualTime};

/// How the client writes a value into a URL path or query (percent-encoding all but
/// `A-Za-z0-9-_.~`, as the SDKs do), for callers that must find a value in a message that
/// quotes a URL.
pub fn url_encoded(value: &str) -> String {
    hwc_signer::encode_component(value)
}
pub use waiter::{
    select, wait, Acceptor, AcceptorState, Comparator, WaiterError, WaiterOutcome, WaiterSpec,
};
