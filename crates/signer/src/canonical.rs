//! The canonical request, built exactly as `huaweicloudsdkcore.signer.Signer` builds it.
//!
//! Every rule here is pinned by the vectors in `crates/client/tests/signing/vectors.json`,
//! which were produced by the official Python signer.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Python's `urllib.parse.quote(s, safe='~')`: everything but `A-Za-z0-9-_.~` is escaped.
const SDK_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Hash of the empty payload; the SDKs use it whenever the body is empty, even when
/// `X-Sdk-Content-Sha256` is set.
pub const EMPTY_PAYLOAD_HASH: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Header that, when present on a non-empty body, replaces the payload hash.
pub const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";

/// Percent-encodes one path segment or query component the way the SDKs do.
pub fn encode_component(raw: &str) -> String {
    utf8_percent_encode(raw, SDK_ESCAPED).to_string()
}

/// The canonical URI: the path is decoded, split on `/`, each segment re-encoded, and a
/// trailing `/` added, so `/a%20b` and `/a b` sign the same.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded
        .split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query string: pairs sorted by raw key then raw value, each side encoded.
///
/// The SDKs also send exactly this string on the wire, so it doubles as the query encoder.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-cased header names that take part in the signature: every one without `_`,
/// sorted and de-duplicated.
pub fn signable_header_names<N: AsRef<str>, V>(headers: &[(N, V)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.as_ref().to_ascii_lowercase())
        .filter(|name| !name.contains('_'))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Looks a header up case-insensitively; the last occurrence wins, as in the SDK's dict.
pub fn header_value<'a, N: AsRef<str>, V: AsRef<str>>(
    headers: &'a [(N, V)],
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Hex SHA-256 of the payload, or the value of `X-Sdk-Content-Sha256` when the body is not empty
/// and that header is set.
pub fn payload_hash<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)], body: &[u8]) -> String {
    if body.is_empty() {
        return EMPTY_PAYLOAD_HASH.to_owned();
    }
    match header_value(headers, CONTENT_SHA256_HEADER) {
        Some(declared) if !declared.is_empty() => declared.to_owned(),
        _ => hex::encode(Sha256::digest(body)),
    }
}

/// The header block of the canonical request: `name:trimmed-value\n` for each signed header.
///
/// A signed header that is absent contributes an empty value, so a verifier given a forged
/// `SignedHeaders` list computes a different signature instead of failing open.
pub fn canonical_headers<N: AsRef<str>, V: AsRef<str>>(
    headers: &[(N, V)],
    signed: &[String],
) -> String {
    signed
        .iter()
        .map(|name| {
            let value = strip(header_value(headers, name).unwrap_or_default());
            format!("{name}:{value}\n")
        })
        .collect()
}

/// Python's `str.strip()`, which the SDK applies to header values: Unicode white space plus the
/// ASCII separators U+001C..U+001F, which Rust's `trim` keeps.
pub fn strip(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_keeps_unreserved_and_adds_trailing_slash() {
        assert_eq!(canonical_uri("/v1/a b/é~"), "/v1/a%20b/%C3%A9~/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/x%2Fy"), "/x/y/");
    }

    #[test]
    fn strip_matches_python() {
        assert_eq!(strip("\u{1f} \tv a\u{a0}\n"), "v a");
    }

    #[test]
    fn query_sorts_raw_pairs_then_encodes() {
        let pairs = [("b", "2"), ("a", "z"), ("a", "y"), ("c d", "")];
        assert_eq!(canonical_query(&pairs), "a=y&a=z&b=2&c%20d=");
    }
}
