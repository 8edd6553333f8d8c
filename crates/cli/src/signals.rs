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

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() -> Shutdown {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return Shutdown::Interrupt;
                }
            };
        tokio::select! {
            _ = ctrl_c => Shutdown::Interrupt,
            _ = terminate.recv() => Shutdown::Terminate,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
        Shutdown::Interrupt
    }
}
