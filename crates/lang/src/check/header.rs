//! The checks of the header, which do not need the steps: version, name and description,
//! inputs, environment variables, the lock key and the target.

use crate::locate::{Part, Path};
use crate::model::{InputSpec, InputType, Runbook, LANGUAGE_VERSION};
use crate::parse::Reporter;
use crate::template::{self, Engine};
use crate::within_limits;

use super::is_identifier;
use super::references::check_not_rendered;
use super::texts::SHOWN_AS_WRITTEN_HELP;

/// The checks that do not need every step: the header.
pub(crate) fn check_partial(reporter: &mut Reporter<'_>, runbook: &Runbook) {
    let root = Path::root();
    if runbook.version != LANGUAGE_VERSION {
        reporter
            .error(
                &root.key("version"),
                Part::Value,
                format!(
                    "unsupported language version {}; this build reads version {LANGUAGE_VERSION}",
                    runbook.version
                ),
            )
            .help = Some(format!("set `version: {LANGUAGE_VERSION}`"));
    }
    within_limits::check_header(reporter, runbook);
    if runbook.name.trim().is_empty() {
        reporter.error(&root.key("name"), Part::Value, "`name` is empty");
    }
    check_not_rendered(
        reporter,
        &root.key("name"),
        "the runbook's `name`",
        SHOWN_AS_WRITTEN_HELP,
        &runbook.name,
    );
    if let Some(description) = &runbook.description {
        check_not_rendered(
            reporter,
            &root.key("description"),
            "`description`",
            SHOWN_AS_WRITTEN_HELP,
            description,
        );
    }
    for (name, spec) in &runbook.inputs {
        if let Some(description) = &spec.description {
            let at = root.key("inputs").key(name.clone()).key("description");
            check_not_rendered(
                reporter,
                &at,
                "an input's `description`",
                SHOWN_AS_WRITTEN_HELP,
                description,
            );
        }
    }
    for (name, spec) in &runbook.inputs {
        check_input(reporter, name, spec, &root.key("inputs").key(name.clone()));
    }
    for (index, var) in runbook.env.iter().enumerate() {
        let name = &var.name;
        let mut path = root.key("env").index(index);
        if var.secret {
            path = path.key("name");
        }
        if !is_identifier(name) {
            reporter.error(
                &path,
                Part::Value,
                format!("`{name}` is not an environment variable name"),
            );
        } else if is_credential_env(name) {
            reporter
                .error(
                    &path,
                    Part::Value,
                    format!("`{name}` holds a credential; templates may not read it"),
                )
                .help = Some("credentials reach the client from the environment directly".into());
        }
    }
    if let Some(key) = runbook.lock.as_ref().and_then(|lock| lock.key.as_ref()) {
        check_lock_key(reporter, runbook, &root.key("lock").key("key"), key);
    }
    let target = root.key("target");
    if let Some(endpoint) = &runbook.target.endpoint {
        check_url(reporter, &target.key("endpoint"), endpoint);
    }
    for (service, endpoint) in &runbook.target.endpoints {
        let path = target.key("endpoints").key(service.clone());
        if !["aom", "functiongraph"].contains(&service.as_str()) {
            reporter
                .error(&path, Part::Key, format!("unknown service `{service}`"))
                .help = Some("expected `aom` or `functiongraph`".into());
        }
        check_url(reporter, &path, endpoint);
    }
}

/// A lock key names runs in the store and in messages, so it may read only non-secret inputs.
fn check_lock_key(reporter: &mut Reporter<'_>, runbook: &Runbook, path: &Path, key: &str) {
    let mut names = match Engine::default().references(key) {
        Ok(names) => names,
        Err(error) => {
            reporter.error(path, Part::Value, format!("invalid template: {error}"));
            return;
        }
    };
    // The engine misses reads inside slices; a secret input must not slip through one.
    names.extend(
        template::names_written(key)
            .into_iter()
            .filter(|name| name.split('.').next() == Some("inputs")),
    );
    for name in names {
        let mut parts = name.split('.');
        let (root, field) = (parts.next().unwrap_or_default(), parts.next());
        let spec = field.and_then(|field| runbook.inputs.get(field));
        let problem = match (root, spec) {
            ("inputs", Some(spec)) if spec.secret => Some((
                format!("the lock key reads the secret input `{name}`"),
                "a lock key is stored and printed; build it from non-secret inputs",
            )),
            ("inputs", Some(_)) => None,
            ("inputs", None) if field.is_none() => Some((
                "the lock key reads all of `inputs`".to_owned(),
                "name the non-secret inputs it is built from, e.g. `inputs.environment`",
            )),
            ("inputs", None) => Some((
                format!("`{name}` is not a declared input"),
                "declare it under `inputs:`",
            )),
            _ => Some((
                format!("the lock key reads `{name}`"),
                "a lock key is known before the run starts: it may read only `inputs`",
            )),
        };
        if let Some((message, help)) = problem {
            reporter.error(path, Part::Value, message).help = Some(help.into());
        }
    }
}

fn check_url(reporter: &mut Reporter<'_>, path: &Path, url: &str) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        reporter.error(path, Part::Value, format!("`{url}` is not an http(s) URL"));
    }
}

/// The variables credentials come from; templates may never read them.
fn is_credential_env(name: &str) -> bool {
    use hwc_client::runtime::credential_env::{AK, AUTH_TOKEN, SECURITY_TOKEN, SK};
    [AK, SK, SECURITY_TOKEN, AUTH_TOKEN]
        .iter()
        .any(|names| names.contains(&name))
}

fn check_input(reporter: &mut Reporter<'_>, name: &str, spec: &InputSpec, path: &Path) {
    if !is_identifier(name) {
        reporter
            .error(
                path,
                Part::Key,
                format!("input name `{name}` cannot be read as `inputs.{name}`"),
            )
            .help = Some("use letters, digits and `_`, starting with a letter".into());
    }
    if let Some(default) = &spec.default {
        if !spec.kind.accepts(default) {
            reporter.error(
                &path.key("default"),
                Part::Value,
                format!(
                    "default is {}, but the input's type is {}",
                    template::json_type(default),
                    spec.kind.name()
                ),
            );
        }
        if spec.required {
            reporter
                .error(
                    &path.key("required"),
                    Part::Value,
                    "a required input cannot have a default",
                )
                .help = Some("drop `required: true` or the `default`".into());
        }
    }
    if let Some(allowed) = &spec.allowed {
        for (index, value) in allowed.iter().enumerate() {
            if !spec.kind.accepts(value) {
                reporter.error(
                    &path.key("enum").index(index),
                    Part::Value,
                    format!(
                        "enum value is {}, but the input's type is {}",
                        template::json_type(value),
                        spec.kind.name()
                    ),
                );
            }
        }
        if let Some(default) = &spec.default {
            if !allowed.contains(default) {
                reporter.error(
                    &path.key("default"),
                    Part::Value,
                    "the default is not one of the `enum` values",
                );
            }
        }
    }
    if let Some(pattern) = &spec.pattern {
        if spec.kind != InputType::String {
            reporter.error(
                &path.key("pattern"),
                Part::Key,
                "`pattern` applies to string inputs only",
            );
        } else if let Err(error) = regex::Regex::new(pattern) {
            reporter.error(
                &path.key("pattern"),
                Part::Value,
                format!(
                    "invalid regular expression: {}",
                    error.to_string().lines().last().unwrap_or("")
                ),
            );
        }
    }
}
