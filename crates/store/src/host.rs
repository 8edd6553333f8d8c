//! This host: its name, whether a process on it is alive, and where the state directory is.

use std::path::PathBuf;

/// Whether process `pid` is alive on this host.
///
/// Reads `/proc/<pid>/stat` (Linux): no such entry, or a zombie (`Z`) or dead (`X`) process,
/// is gone. Where `/proc` is not mounted (or on another system) nothing can be told, and the
/// answer is `true`: a lock held a little too long is safe, two runs at once are not.
///
/// A pid reused by an unrelated process reads as alive; the lock then waits for that process
/// too. A lease with a heartbeat (the PostgreSQL backend's plan) does not have this limit.
pub fn process_is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(process_state(&stat), Some('Z' | 'X')),
        Err(_) => !std::path::Path::new("/proc/self/stat").exists(),
    }
}

/// The state letter of a `/proc/<pid>/stat` line: the field after the command name, which is
/// in parentheses and may itself contain spaces and parentheses, so the last `)` ends it.
fn process_state(stat: &str) -> Option<char> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

/// The variable that names this host for lock holders and runs, when the kernel's name is
/// not the right one (a Kubernetes pod's name, given through the downward API).
pub const HOST_ENV: &str = "RUNBOOK_HOST";

/// This host's name, as lock holders and runs record it.
///
/// `$RUNBOOK_HOST` when set, else the kernel's (`/proc/sys/kernel/hostname`, right inside
/// containers too), else `/etc/hostname`, else `$HOSTNAME`, else `"localhost"`. Two processes
/// with different names count as different hosts: neither can check whether the other's
/// process is alive, so only its lease says when it is gone.
pub fn host_name() -> String {
    std::env::var(HOST_ENV)
        .ok()
        .into_iter()
        .chain(
            ["/proc/sys/kernel/hostname", "/etc/hostname"]
                .iter()
                .filter_map(|path| std::fs::read_to_string(path).ok()),
        )
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Where the store lives when `--state-dir` is not given: `$RUNBOOK_STATE_DIR`, else
/// `$XDG_STATE_HOME/runbook`, else `$HOME/.local/state/runbook`; `None` when none is set.
///
/// `lookup` reads an environment variable (`|name| std::env::var(name).ok()`), so the rule is
/// testable without touching the process environment. An empty variable counts as unset, and a
/// relative `XDG_STATE_HOME` is ignored, as the XDG Base Directory specification says.
pub fn default_state_dir(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| lookup(name).filter(|value| !value.is_empty());
    if let Some(dir) = set("RUNBOOK_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = set("XDG_STATE_HOME").map(PathBuf::from) {
        if xdg.is_absolute() {
            return Some(xdg.join("runbook"));
        }
    }
    set("HOME").map(|home| PathBuf::from(home).join(".local/state/runbook"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn state_dir_prefers_runbook_then_xdg_then_home() {
        let all = env(&[
            ("RUNBOOK_STATE_DIR", "/srv/runbook"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/home/ops"),
        ]);
        assert_eq!(default_state_dir(all), Some(PathBuf::from("/srv/runbook")));
        let xdg = env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/home/ops")]);
        assert_eq!(default_state_dir(xdg), Some(PathBuf::from("/x/runbook")));
        let home = env(&[("HOME", "/home/ops")]);
        assert_eq!(
            default_state_dir(home),
            Some(PathBuf::from("/home/ops/.local/state/runbook"))
        );
        assert_eq!(default_state_dir(env(&[])), None);
    }

    #[test]
    fn state_dir_ignores_empty_values_and_a_relative_xdg_state_home() {
        let lookup = env(&[
            ("RUNBOOK_STATE_DIR", ""),
            ("XDG_STATE_HOME", "relative/state"),
            ("HOME", "/home/ops"),
        ]);
        assert_eq!(
            default_state_dir(lookup),
            Some(PathBuf::from("/home/ops/.local/state/runbook"))
        );
        assert_eq!(default_state_dir(env(&[("HOME", "")])), None);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_is_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_is_alive(pid));
    }

    #[test]
    fn an_exited_child_not_yet_reaped_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Until `wait`, the exited child stays a zombie with a /proc entry.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_is_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!process_is_alive(pid));
        child.wait().unwrap();
    }

    #[test]
    fn stat_state_survives_parentheses_in_the_command_name() {
        assert_eq!(process_state("42 (a) b) S 1 2"), Some('S'));
        assert_eq!(process_state("42 (sh) Z 1"), Some('Z'));
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn host_name_is_not_empty() {
        assert!(!host_name().trim().is_empty());
    }
}
