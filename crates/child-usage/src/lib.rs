//! Reaping a child process with `wait4(2)`: its exit status and its peak resident set size,
//! which `std::process::Child::wait` does not report; and the two calls that measuring it
//! honestly needs (`prctl(PR_SET_CHILD_SUBREAPER)`, `kill(2)`).
//!
//! For tests only: `crates/cli/tests/hostile.rs` runs every hostile-input case as a child
//! process and fails a case whose peak RSS is too high. The workspace forbids `unsafe`; this
//! crate holds the calls that need it.
//!
//! Why a subreaper: Linux carries the high-water RSS of the memory a process had when it
//! called `execve` into its `ru_maxrss`. A child that `std::process::Command` starts (vfork, or
//! fork, then exec) therefore reports at least the *parent's* peak RSS — a test process that
//! generated a 20 MB file reports 100 MB for a child that used 20. A grandchild forked by a
//! small process (`sh -c 'CMD & …'`) starts from that small process's memory instead; when
//! the shell exits, the grandchild is re-parented to the nearest subreaper, which can then
//! `wait4` it for its own figure.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// A child that has ended, and what it used.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub status: ExitStatus,
    /// Peak resident set size in KiB (`ru_maxrss`; Linux counts it in kilobytes).
    pub max_rss_kb: u64,
}

/// Waits for the child `pid` to end and reaps it. With `block` false, returns `None` at once
/// when it is still running (`WNOHANG`).
///
/// Reaping frees the pid for reuse: once this returned `Some`, never signal `pid` again (in
/// particular, never call `Child::kill` or `Child::wait` on the `std` handle).
pub fn wait4(pid: u32, block: bool) -> io::Result<Option<Reaped>> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let options = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `status` and `usage` are live, writable and of the types wait4(2) writes;
        // `rusage` is plain integers, so the zeroed value is valid even where it is not written.
        #[allow(unsafe_code)]
        let (got, usage) = unsafe {
            let got = libc::wait4(pid, &mut status, options, usage.as_mut_ptr());
            (got, usage.assume_init())
        };
        match got {
            -1 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            0 => return Ok(None),
            _ => {
                return Ok(Some(Reaped {
                    status: ExitStatus::from_raw(status),
                    max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
                }))
            }
        }
    }
}

/// Makes this process the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`):
/// a grandchild whose parent exits becomes this process's child, to `wait4` for.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER reads only its integer arguments.
    #[allow(unsafe_code)]
    let result = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends SIGKILL to `pid`. Only for a child not yet reaped (by [`wait4`]): until then its pid
/// cannot have been reused.
pub fn kill(pid: u32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    #[allow(unsafe_code)]
    let result = unsafe { libc::kill(pid, libc::SIGKILL) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // The children are reaped by `wait4`, which clippy does not know.
    #![allow(clippy::unwrap_used, clippy::zombie_processes)]

    use super::*;
    use std::process::Command;

    #[test]
    fn reports_the_exit_code_and_a_peak_rss() {
        let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let reaped = wait4(child.id(), true).unwrap().unwrap();
        assert_eq!(reaped.status.code(), Some(3));
        assert!(reaped.max_rss_kb > 0);
    }

    #[test]
    fn an_orphaned_grandchild_is_reaped_here_with_its_own_peak() {
        become_subreaper().unwrap();
        let dir = std::env::temp_dir().join(format!("child-usage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        // The shell starts the grandchild and exits at once; the grandchild is re-parented here.
        let status = Command::new("sh")
            .args(["-c", "sleep 0.2 & echo $! > \"$0\""])
            .arg(&pidfile)
            .status()
            .unwrap();
        assert!(status.success());
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let reaped = wait4(pid, true).unwrap().unwrap();
        assert_eq!(reaped.status.code(), Some(0));
        assert!(
            reaped.max_rss_kb > 0 && reaped.max_rss_kb < 64 * 1024,
            "{reaped:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn does_not_block_on_a_running_child_unless_asked() {
        let child = Command::new("sleep").arg("5").spawn().unwrap();
        assert!(wait4(child.id(), false).unwrap().is_none());
        kill(child.id()).unwrap();
        let reaped = wait4(child.id(), true).unwrap().unwrap();
        assert_eq!(reaped.status.signal(), Some(libc::SIGKILL));
    }
}
