//! Ctrl-C and SIGTERM.

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Ctrl-C: cancel the run (and run `finally`).
    Interrupt,
    /// What systemd and Kubernetes send on shutdown or eviction: suspend a run that can be
    /// resumed.
    Terminate,
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM after the call. The handlers are in place
/// when this returns, not when the future is first polled: a process that says it is ready, or
/// a run whose signal task has not run yet, is stopped as it asks, never killed by the
/// signal's default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = Shutdown> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => Shutdown::Interrupt,
                    _ = terminate.recv() => Shutdown::Terminate,
                },
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                    Shutdown::Interrupt
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            Shutdown::Interrupt
        }
    }
}
