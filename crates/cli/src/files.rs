//! Reading a file the user named (a runbook, an inputs file, a scenario): never more than its
//! limit, so `--inputs /dev/zero` or a mistaken multi-gigabyte path fails at once instead of
//! filling memory, and with one plain message for each way it can go wrong.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use runbook_lang::limits::{MAX_INPUTS_FILE_BYTES, MAX_RUNBOOK_BYTES};

/// What a file is for: how messages name it and how large it may be.
pub struct Kind {
    /// "runbook file".
    noun: &'static str,
    /// "a runbook file".
    one: &'static str,
    limit: usize,
}

pub const RUNBOOK: Kind = Kind {
    noun: "runbook file",
    one: "a runbook file",
    limit: MAX_RUNBOOK_BYTES,
};

pub const INPUTS: Kind = Kind {
    noun: "inputs file",
    one: "an inputs file",
    limit: MAX_INPUTS_FILE_BYTES,
};

/// A scenario is YAML of a runbook's size and kind, written by the same people; it has no
/// limit of its own.
pub const SCENARIO: Kind = Kind {
    noun: "scenario file",
    one: "a scenario file",
    limit: MAX_RUNBOOK_BYTES,
};

/// A test file (`runbook test`) is a runbook's size and kind too, with its scenario inline.
pub const TEST: Kind = Kind {
    noun: "test file",
    one: "a test file",
    limit: MAX_RUNBOOK_BYTES,
};

/// A run's JSON, for `runbook report`: its steps' results make it larger than a runbook, but a
/// run whose record passes this is not one a report could show anyway.
pub const RUN_STATE: Kind = Kind {
    noun: "run file",
    one: "a run's JSON",
    limit: 64 * 1024 * 1024,
};

/// The file's bytes, at most `kind`'s limit of them.
pub fn read_bytes(path: &Path, kind: &Kind) -> Result<Vec<u8>, String> {
    let cannot = |why: &dyn std::fmt::Display| {
        format!("cannot read {} {}: {why}", kind.noun, path.display())
    };
    let file = std::fs::File::open(path).map_err(|error| cannot(&error))?;
    let metadata = file.metadata().map_err(|error| cannot(&error))?;
    // Opening a directory succeeds on Unix and only reading it fails, with a vaguer message.
    if metadata.is_dir() {
        return Err(cannot(&"is a directory"));
    }
    // Devices and pipes report no length (or a wrong one), so the read itself is bounded:
    // one byte past the limit is enough to know the file is too large.
    let mut reader = file.take(kind.limit as u64 + 1);
    let expected = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(expected.min(kind.limit) + 1);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(cannot(&error)),
        };
        if bytes.len() + read > bytes.capacity() {
            // Doubling as `read_to_end` does, but never past limit + 1.
            let wanted = (bytes.capacity() * 2).clamp(bytes.len() + read, kind.limit + 1);
            bytes.reserve_exact(wanted - bytes.len());
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
    if bytes.len() > kind.limit {
        // Said at 1:1, like every other problem with a file's content.
        return Err(format!(
            "{}:1:1: the {} is larger than {}, the most {} may be",
            path.display(),
            kind.noun,
            size(kind.limit),
            kind.one
        ));
    }
    Ok(bytes)
}

/// The file as UTF-8 text (see [`runbook_lang::encoding::decode`]). A problem is said as
/// `inputs file PATH:LINE:COL: what`, never with the file's content: an inputs file may hold
/// secrets.
pub fn read_text(path: &Path, kind: &Kind) -> Result<String, String> {
    let bytes = read_bytes(path, kind)?;
    let name = format!("{} {}", kind.noun, path.display());
    runbook_lang::encoding::decode(&name, &bytes).map_err(|not_text| not_text.to_string())
}

/// `4 MiB`, `64 KiB`, `100 bytes`.
fn size(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// `path` when it is no directory, else the files under it that `wanted` names, in name
/// order. Whatever is not a directory is taken as named: reading it says what is wrong with
/// it (a device, a pipe) better than listing it would.
pub fn collect(
    path: &Path,
    wanted: &dyn Fn(&Path) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !metadata.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    // Links are followed (a linked directory of runbooks is common), and a link back into
    // its own ancestors is named rather than walked again and again.
    for entry in walkdir::WalkDir::new(path)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|error| match error.loop_ancestor() {
            Some(ancestor) => format!(
                "{} links back to {}, a directory above it (a loop); remove the link or name the files directly",
                error.path().unwrap_or(path).display(),
                ancestor.display()
            ),
            None => format!("cannot list {}: {error}", path.display()),
        })?;
        // A pipe or a device named as wanted is listed, and reading it says what it is.
        if !entry.file_type().is_dir() && wanted(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Kind = Kind {
        noun: "test file",
        one: "a test file",
        limit: 100,
    };

    #[test]
    fn a_file_up_to_its_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for len in [0, 1, 99, 100] {
            std::fs::write(&path, vec![b'a'; len]).unwrap();
            assert_eq!(read_bytes(&path, &SMALL).unwrap().len(), len);
        }
        std::fs::write(&path, vec![b'a'; 101]).unwrap();
        assert_eq!(
            read_bytes(&path, &SMALL).unwrap_err(),
            format!(
                "{}:1:1: the test file is larger than 100 bytes, the most a test file may be",
                path.display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_stops_at_the_limit() {
        let error = read_bytes(Path::new("/dev/zero"), &RUNBOOK).unwrap_err();
        assert_eq!(
            error,
            "/dev/zero:1:1: the runbook file is larger than 2 MiB, the most a runbook file may be"
        );
    }

    #[test]
    fn a_directory_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_text(dir.path(), &INPUTS).unwrap_err();
        assert!(error.ends_with(": is a directory"), "{error}");
        assert!(error.starts_with("cannot read inputs file "), "{error}");
    }

    #[test]
    fn text_problems_name_the_file_and_place_but_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.yaml");
        std::fs::write(&path, b"token: s3cr3t\xFF\n").unwrap();
        let error = read_text(&path, &INPUTS).unwrap_err();
        assert_eq!(
            error,
            format!(
                "inputs file {}:1:14: invalid UTF-8 (byte 0xFF); save the file as UTF-8",
                path.display()
            )
        );
        std::fs::write(&path, b"\xEF\xBB\xBFtoken: x\n").unwrap();
        assert_eq!(read_text(&path, &INPUTS).unwrap(), "token: x\n");
    }

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size(4 << 20), "4 MiB");
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
