//! Credentials, read from the environment variables the official SDKs use, and a secret
//! wrapper that never prints.

use std::fmt;

/// A value that must never be logged: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for signing; do not format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Permanent or temporary AK/SK; requests are signed with SDK-HMAC-SHA256.
    AkSk {
        ak: String,
        sk: Secret,
        /// For temporary credentials, sent as `X-Security-Token`.
        security_token: Option<Secret>,
    },
    /// An IAM token, sent as `X-Auth-Token`.
    Token(Secret),
}

/// The environment variables read, in order of preference.
pub mod env {
    pub const AK: &[&str] = &["HUAWEICLOUD_SDK_AK", "CLOUD_SDK_AK"];
    pub const SK: &[&str] = &["HUAWEICLOUD_SDK_SK", "CLOUD_SDK_SK"];
    pub const SECURITY_TOKEN: &[&str] = &["HUAWEICLOUD_SDK_SECURITY_TOKEN"];
    pub const PROJECT_ID: &[&str] = &["HUAWEICLOUD_SDK_PROJECT_ID", "CLOUD_SDK_PROJECT_ID"];
    /// Not an SDK variable (the SDKs fetch tokens themselves); ours for token auth.
    pub const AUTH_TOKEN: &[&str] = &["HUAWEICLOUD_SDK_AUTH_TOKEN"];
}

/// Why the environment holds no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or HUAWEICLOUD_SDK_AUTH_TOKEN for an IAM token)")]
    Missing,
    #[error("{present} is set but {missing} is not: set both")]
    Incomplete {
        present: &'static str,
        missing: &'static str,
    },
}

impl Credentials {
    /// Reads credentials from the process environment.
    pub fn from_env() -> Result<Self, CredentialsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads credentials through `lookup` (an environment), preferring AK/SK over a token.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let first = |names: &'static [&'static str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.is_empty()).map(|v| (*n, v)))
        };
        match (first(env::AK), first(env::SK)) {
            (Some((_, ak)), Some((_, sk))) => Ok(Self::AkSk {
                ak,
                sk: Secret(sk),
                security_token: first(env::SECURITY_TOKEN).map(|(_, t)| Secret(t)),
            }),
            (Some((present, _)), None) => Err(CredentialsError::Incomplete {
                present,
                missing: env::SK[0],
            }),
            (None, Some((present, _))) => Err(CredentialsError::Incomplete {
                present,
                missing: env::AK[0],
            }),
            (None, None) => first(env::AUTH_TOKEN)
                .map(|(_, token)| Self::Token(Secret(token)))
                .ok_or(CredentialsError::Missing),
        }
    }

    /// The project id from the environment, if set.
    pub fn project_id_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        env::PROJECT_ID
            .iter()
            .find_map(|n| lookup(n).filter(|v| !v.is_empty()))
    }

    /// Every secret these credentials hold, for redaction by callers that print text.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Self::AkSk {
                sk, security_token, ..
            } => std::iter::once(sk.expose())
                .chain(security_token.as_ref().map(Secret::expose))
                .collect(),
            Self::Token(token) => vec![token.expose()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_sdk_names_and_prefers_huaweicloud_prefix() {
        let creds = Credentials::from_lookup(lookup(&[
            ("HUAWEICLOUD_SDK_AK", "ak1"),
            ("CLOUD_SDK_AK", "ak2"),
            ("CLOUD_SDK_SK", "sk2"),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "s3cr3t-session"),
        ]))
        .unwrap();
        let Credentials::AkSk {
            ak,
            sk,
            security_token,
        } = &creds
        else {
            panic!("expected AK/SK")
        };
        assert_eq!((ak.as_str(), sk.expose()), ("ak1", "sk2"));
        assert_eq!(
            security_token.as_ref().map(Secret::expose),
            Some("s3cr3t-session")
        );
        assert!(!format!("{creds:?}").contains("sk2"));
        assert!(!format!("{creds:?}").contains("s3cr3t-session"));
    }

    #[test]
    fn half_a_key_pair_is_an_error_that_names_the_missing_variable() {
        let err = Credentials::from_lookup(lookup(&[("HUAWEICLOUD_SDK_AK", "a")])).unwrap_err();
        assert!(err.to_string().contains("HUAWEICLOUD_SDK_SK"), "{err}");
        assert_eq!(
            Credentials::from_lookup(lookup(&[])).unwrap_err(),
            CredentialsError::Missing
        );
        let token =
            Credentials::from_lookup(lookup(&[("HUAWEICLOUD_SDK_AUTH_TOKEN", "t")])).unwrap();
        assert_eq!(token, Credentials::Token(Secret::new("t")));
    }
}
