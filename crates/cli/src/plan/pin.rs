//! A plan's pins: the digests of what was reviewed — the runbook's text, its inputs after
//! defaults (secret ones left out: they change without the plan changing, and a digest of a
//! short secret could be guessed), and the API spec the binary was built from. Nothing else,
//! so a pin file is safe to commit next to the crontab that uses it.

use std::path::Path;

use runbook_lang::Runbook;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const PIN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    pub version: u32,
    pub runbook_sha256: String,
    pub inputs_sha256: String,
    pub spec_sha256: String,
}

/// The runbook's digest as the run store records it too.
pub fn runbook_digest(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

impl Pins {
    pub fn of(runbook: &Runbook, text: &str, inputs: &Map<String, Value>) -> Self {
        // Sorted by name, so the order inputs were given in does not matter.
        let pinned: std::collections::BTreeMap<&String, &Value> = inputs
            .iter()
            .filter(|(name, _)| !runbook.inputs.get(*name).is_some_and(|spec| spec.secret))
            .collect();
        let inputs_json = serde_json::to_string(&pinned).unwrap_or_default();
        Self {
            version: PIN_VERSION,
            runbook_sha256: runbook_digest(text),
            inputs_sha256: format!("sha256:{}", hex::encode(Sha256::digest(inputs_json))),
            spec_sha256: format!("sha256:{}", hwc_client::catalogue::SPEC_SHA256),
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        std::fs::write(path, text)
            .map_err(|error| format!("cannot write the pins to {}: {error}", path.display()))
    }
}

/// Whether a run of `runbook` with `inputs` is what the pin file at `path` was made for;
/// otherwise what differs and what to do.
pub fn check(
    path: &Path,
    runbook: &Runbook,
    text: &str,
    inputs: &Map<String, Value>,
) -> Result<(), String> {
    let read = crate::files::read_text(path, &crate::files::INPUTS)?;
    let pinned: Pins = serde_json::from_str(&read).map_err(|error| {
        format!(
            "{} is not a plan's pin file ({error}); make one with `runbook plan FILE -o {}`",
            path.display(),
            path.display()
        )
    })?;
    if pinned.version != PIN_VERSION {
        return Err(format!(
            "{} has pin version {}; this build reads version {PIN_VERSION}",
            path.display(),
            pinned.version
        ));
    }
    let now = Pins::of(runbook, text, inputs);
    let changed: Vec<&str> = [
        (pinned.runbook_sha256 != now.runbook_sha256, "the runbook"),
        (pinned.inputs_sha256 != now.inputs_sha256, "the inputs"),
        (
            pinned.spec_sha256 != now.spec_sha256,
            "the API spec (another build of runbook)",
        ),
    ]
    .into_iter()
    .filter_map(|(differs, what)| differs.then_some(what))
    .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not the reviewed plan: {} changed since {} was made; review `runbook plan` again and renew the pins with `-o {}`",
        changed.join(" and "),
        path.display(),
        path.display()
    ))
}
