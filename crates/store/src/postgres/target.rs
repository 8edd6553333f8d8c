//! The URL: what to connect with, and how to name the server without its password.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::PgOptions;
use crate::StoreError;

/// A URL taken apart: what to connect with, and how to name the server without the password.
/// (No `Debug`: it holds the password.)
pub(super) struct Target {
    /// The URL without its password, with the port and database it stands for filled in.
    pub(super) at: String,
    /// `host:port`, or `the socket /dir/.s.PGSQL.5432`.
    pub(super) place: String,
    /// The socket's path, when the connection is over a Unix socket.
    pub(super) socket: Option<String>,
    pub(super) options: PgConnectOptions,
    /// The password as written in the URL and decoded, to scrub from any message.
    secrets: Vec<String>,
}

impl Target {
    pub(super) fn parse(url: &str, connect: &PgOptions) -> Result<Target, StoreError> {
        let malformed = |reason: String| StoreError::Config {
            at: redact_unparsed(url),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|err| {
            malformed(format!(
                "the URL is malformed ({err}); expected \
                 postgres://user:password@host:port/database"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(malformed(format!(
                "`{}:` is not a PostgreSQL URL; expected postgres://user:password@host:port/database",
                parsed.scheme()
            )));
        }
        let mut secrets: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
        for (key, value) in parsed.query_pairs() {
            if key == "password" {
                secrets.push(value.into_owned());
            }
        }
        // The user info's password is percent-encoded; sqlx connects with it decoded.
        if let Some(password) = parsed.password() {
            let encoded = format!("p={}", password.replace('+', "%2B"));
            if let Some((_, decoded)) = url::form_urlencoded::parse(encoded.as_bytes()).next() {
                secrets.push(decoded.into_owned());
            }
        }
        let redacted = redact(&parsed);
        let mut options = PgConnectOptions::from_str(url).map_err(|err| StoreError::Config {
            at: redacted.to_string(),
            reason: scrub(
                &format!("the URL has a value that cannot be used ({err})"),
                &secrets,
            ),
        })?;

        // An IPv6 address comes out of the URL in its brackets, which sqlx (on tokio) would
        // then try to resolve as a host name.
        let host = options.get_host();
        if let Some(address) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let address = address.to_owned();
            options = options.host(&address);
        }
        if options.get_application_name().is_none() {
            options = options.application_name("runbook");
        }
        let given = options.get_options().unwrap_or_default().to_owned();
        let lock_timeout = format!("{}ms", connect.lock_timeout.as_millis());
        let idle = format!("{}ms", connect.idle_in_transaction.as_millis());
        for (setting, value) in [
            ("lock_timeout", lock_timeout.as_str()),
            // A process frozen inside a transaction would hold its row locks for as long as
            // it is frozen; the server ends such a session (and its transaction) after this.
            ("idle_in_transaction_session_timeout", idle.as_str()),
        ] {
            if !given.contains(setting) {
                options = options.options([(setting, value)]);
            }
        }

        let port = options.get_port();
        let socket_dir = match options.get_socket() {
            Some(dir) => Some(dir.display().to_string()),
            None if options.get_host().starts_with('/') => Some(options.get_host().to_owned()),
            None => None,
        };
        let socket = socket_dir.map(|dir| {
            let dir = dir.trim_end_matches('/');
            format!("{dir}/.s.PGSQL.{port}")
        });
        if socket.is_some() {
            // As libpq: TLS is for TCP; a Unix socket is local, and servers refuse TLS on it.
            options = options.ssl_mode(PgSslMode::Disable);
        }
        let place = match &socket {
            Some(path) => format!("the socket {path}"),
            None if options.get_host().contains(':') => {
                format!("[{}]:{port}", options.get_host())
            }
            None => format!("{}:{port}", options.get_host()),
        };
        Ok(Target {
            at: location(redacted, &options),
            place,
            socket,
            options,
            secrets,
        })
    }

    /// An `sslrootcert` that TLS will verify the server with must be a readable file (or
    /// inline PEM) holding certificates: checked first, because sqlx would otherwise report
    /// a missing file as if the server were unreachable.
    pub(super) fn check_root_cert(&self, url: &str) -> Result<(), StoreError> {
        if !matches!(
            self.options.get_ssl_mode(),
            PgSslMode::VerifyCa | PgSslMode::VerifyFull
        ) {
            return Ok(());
        }
        let given = url::Url::parse(url)
            .ok()
            .and_then(|parsed| {
                parsed
                    .query_pairs()
                    .filter(|(key, _)| matches!(&**key, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
                    .map(|(_, value)| value.into_owned())
                    .last()
            })
            .or_else(|| std::env::var("PGSSLROOTCERT").ok());
        let Some(given) = given else {
            return Ok(());
        };
        let config = |reason: String| StoreError::Config {
            at: self.at.clone(),
            reason,
        };
        let trimmed = given.trim();
        let pem = if trimmed.starts_with("-----BEGIN") && trimmed.ends_with("-----") {
            trimmed.to_owned()
        } else {
            std::fs::read_to_string(&given).map_err(|err| {
                config(format!("cannot read the sslrootcert file {given} ({err})"))
            })?
        };
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(config(format!(
                "the sslrootcert {given} holds no PEM certificate \
                 (-----BEGIN CERTIFICATE-----)"
            )));
        }
        Ok(())
    }

    /// `err` with the password, wherever it might appear, replaced.
    pub(super) fn scrub(&self, err: StoreError) -> StoreError {
        match err {
            StoreError::Config { at, reason } => StoreError::Config {
                at,
                reason: scrub(&reason, &self.secrets),
            },
            StoreError::Unreachable { at, reason } => StoreError::Unreachable {
                at,
                reason: scrub(&reason, &self.secrets),
            },
            StoreError::Database { at, doing, detail } => StoreError::Database {
                at,
                doing,
                detail: scrub(&detail, &self.secrets),
            },
            other => other,
        }
    }
}

/// `text` with each secret replaced. Secrets shorter than four characters are left: they
/// would blot out ordinary words, and say little about the password.
fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| secret.chars().count() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "******")
        })
}

/// The URL without its password, in the user's info and in a `password` parameter.
fn redact(parsed: &url::Url) -> url::Url {
    let mut shown = parsed.clone();
    // Fails only for a URL that cannot have a password, which then has none.
    let _ = shown.set_password(None);
    let kept: Vec<&str> = parsed
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && query_key(pair) != "password")
        .collect();
    shown.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
    shown
}

/// The key of one `key=value` pair of a query, decoded.
fn query_key(pair: &str) -> String {
    url::form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}

/// The redacted URL with what it leaves to defaults filled in — the host or socket
/// directory, the port and the database — so that messages say where the store is.
fn location(mut shown: url::Url, options: &PgConnectOptions) -> String {
    let pairs: Vec<String> = shown
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |key: &str| pairs.iter().any(|pair| query_key(pair) == key);
    let mut added = Vec::new();
    let has_host = shown.host_str().is_some_and(|host| !host.is_empty());
    if !has_host && !has("host") && !has("hostaddr") {
        let host = match options.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => options.get_host().to_owned(),
        };
        added.push(format!("host={host}"));
    }
    if shown.port().is_none() && !has("port") {
        let port = options.get_port();
        if !has_host || shown.set_port(Some(port)).is_err() {
            added.push(format!("port={port}"));
        }
    }
    if shown.path().trim_start_matches('/').is_empty() && !has("dbname") {
        // Without a database, the server picks the one named like the user.
        let database = options
            .get_database()
            .unwrap_or_else(|| options.get_username())
            .to_owned();
        shown.set_path(&format!("/{database}"));
    }
    if !added.is_empty() {
        let query = pairs.into_iter().chain(added).collect::<Vec<_>>().join("&");
        shown.set_query(Some(&query));
    }
    shown.to_string()
}

/// A URL that did not parse, as far as it can be shown: the scheme, then the user but no
/// password — everything up to the last `@` counts as user info, since a malformed URL's
/// password may hold any character — and no `password` parameter.
fn redact_unparsed(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = match rest.rsplit_once('@') {
        Some((info, host)) => {
            let user = info.split([':', '?', '/']).next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => rest.to_owned(),
    };
    let (rest, query) = rest.split_once('?').unwrap_or((&rest, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !query_key(pair).contains("password"))
        .collect();
    let mut shown = if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    };
    if !query.is_empty() {
        shown.push('?');
        shown.push_str(&query.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_fills_in_what_the_url_leaves_to_defaults_and_drops_the_password() {
        let shown = |url: &str| {
            let target = Target::parse(url, &PgOptions::default()).unwrap();
            (target.at, target.place)
        };
        assert_eq!(
            shown("postgres://runbook:s3cret@db.internal/runbook?sslmode=verify-full"),
            (
                "postgres://runbook@db.internal:5432/runbook?sslmode=verify-full".to_owned(),
                "db.internal:5432".to_owned()
            )
        );
        assert_eq!(
            shown("postgres://pg:s3cret@localhost/runs?host=/run/pg/&password=other"),
            (
                "postgres://pg@localhost:5432/runs?host=/run/pg/".to_owned(),
                "the socket /run/pg/.s.PGSQL.5432".to_owned()
            )
        );
        assert_eq!(
            shown("postgresql://u:pw@[::1]:6543"),
            (
                "postgresql://u@[::1]:6543/u".to_owned(),
                "[::1]:6543".to_owned()
            )
        );
        assert_eq!(
            shown("postgres:///runs?host=/tmp&user=u&password=s3cret").0,
            "postgres:///runs?host=/tmp&user=u&port=5432"
        );
    }

    #[test]
    fn a_url_that_does_not_parse_is_shown_without_what_may_be_its_password() {
        assert_eq!(
            redact_unparsed("postgres://u:pa?s/s@w:rd@host:x/db?password=p&sslmode=y"),
            "postgres://u@host:x/db?sslmode=y"
        );
        assert_eq!(redact_unparsed("postgres://[::1"), "postgres://[::1");
        assert_eq!(redact_unparsed("host:5432"), "host:5432");
    }

    #[test]
    fn only_passwords_long_enough_to_tell_are_scrubbed() {
        let secrets = ["hunter22".to_owned(), "pw".to_owned()];
        assert_eq!(
            scrub("login hunter22 failed for pw", &secrets),
            "login ****** failed for pw"
        );
    }
}
