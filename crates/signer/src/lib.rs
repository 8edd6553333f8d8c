//! SDK-HMAC-SHA256: the AK/SK request signature of Huawei Cloud's API gateway.
//!
//! Signing and verification share one canonicalisation ([`canonical`]), so the client and the
//! sandbox cannot drift apart. The rules follow the official Python SDK (`huaweicloudsdkcore`),
//! whose output is committed as test vectors; the Go SDK's known answers hold too.
//!
//! This crate does no I/O and reads no clock: the caller supplies the `X-Sdk-Date` header.

pub mod canonical;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::{format_description::BorrowedFormatItem, macros::format_description, PrimitiveDateTime};

pub use canonical::{canonical_query, canonical_uri, encode_component};

/// The algorithm name, first token of the `Authorization` header and of the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The header carrying the signing time, `YYYYMMDDTHHMMSSZ` in UTC.
pub const DATE_HEADER: &str = "X-Sdk-Date";

const SDK_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// A request as it will be (or was) put on the wire, seen by the signer.
///
/// `headers` must already hold `X-Sdk-Date` and `Host`; every header without `_` in its name is
/// signed.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent; percent-encoded or not, it canonicalises the same.
    pub path: &'a str,
    /// Query pairs, raw (not encoded), in any order.
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Everything a signature is made of, kept for debugging and for the test vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub signed_headers: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// The value of the `Authorization` header. It holds the access key but never the secret.
    pub authorization: String,
}

/// Why a signature was refused. The messages name no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the Authorization header is missing")]
    MissingAuthorization,
    #[error(
        "the Authorization header is not `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`"
    )]
    MalformedAuthorization,
    #[error("the X-Sdk-Date header is missing or not YYYYMMDDTHHMMSSZ")]
    BadDate,
    #[error("x-sdk-date is not among the signed headers")]
    DateNotSigned,
    #[error("unknown access key")]
    UnknownAccessKey,
    #[error("signature mismatch")]
    Mismatch,
}

/// Signs `parts` with the secret key `sk` on behalf of access key `ak`, signing every header of
/// the request whose name has no `_`, as the SDKs do.
pub fn sign(parts: &RequestParts<'_>, ak: &str, sk: &str) -> Signature {
    let signed = canonical::signable_header_names(parts.headers);
    sign_with_headers(parts, ak, sk, &signed)
}

fn sign_with_headers(parts: &RequestParts<'_>, ak: &str, sk: &str, signed: &[String]) -> Signature {
    let signed_headers = signed.join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method.to_ascii_uppercase(),
        canonical::canonical_uri(parts.path),
        canonical::canonical_query(parts.query),
        canonical::canonical_headers(parts.headers, signed),
        signed_headers,
        canonical::payload_hash(parts.headers, parts.body),
    );
    let date =
        canonical::strip(canonical::header_value(parts.headers, DATE_HEADER).unwrap_or_default());
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = hex::encode(hmac_sha256(sk.as_bytes(), string_to_sign.as_bytes()));
    let authorization =
        format!("{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}");
    Signature {
        signed_headers,
        canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A parsed `Authorization: SDK-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn parse(value: &str) -> Result<Self, VerifyError> {
        let rest = value
            .trim()
            .strip_prefix(ALGORITHM)
            .filter(|rest| rest.starts_with(' '))
            .ok_or(VerifyError::MalformedAuthorization)?;
        let (mut access_key, mut signed_headers, mut signature) = (None, None, None);
        for field in rest.split(',') {
            let (key, value) = field
                .trim()
                .split_once('=')
                .ok_or(VerifyError::MalformedAuthorization)?;
            let slot = match key {
                "Access" => &mut access_key,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => return Err(VerifyError::MalformedAuthorization),
            };
            *slot = Some(value.to_owned());
        }
        match (access_key, signed_headers, signature) {
            (Some(access_key), Some(signed), Some(signature))
                if !access_key.is_empty() && !signed.is_empty() =>
            {
                Ok(Self {
                    access_key,
                    signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
                    signature,
                })
            }
            _ => Err(VerifyError::MalformedAuthorization),
        }
    }
}

/// Verifies a received request against its own `SignedHeaders` list (the Go, Java and Python
/// SDKs sign different header sets). `secret_for` maps an access key to its secret key.
///
/// Returns the access key and the signing time; checking that time against a clock is the
/// caller's business.
pub fn verify<'s>(
    parts: &RequestParts<'_>,
    secret_for: impl FnOnce(&str) -> Option<&'s str>,
) -> Result<(Authorization, PrimitiveDateTime), VerifyError> {
    let header = canonical::header_value(parts.headers, "authorization")
        .ok_or(VerifyError::MissingAuthorization)?;
    let authorization = Authorization::parse(header)?;
    if !authorization
        .signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case(DATE_HEADER))
    {
        return Err(VerifyError::DateNotSigned);
    }
    let date = canonical::header_value(parts.headers, DATE_HEADER)
        .and_then(|d| parse_sdk_date(canonical::strip(d)))
        .ok_or(VerifyError::BadDate)?;
    let sk = secret_for(&authorization.access_key).ok_or(VerifyError::UnknownAccessKey)?;
    let expected = sign_with_headers(
        parts,
        &authorization.access_key,
        sk,
        &authorization.signed_headers,
    );
    if constant_time_eq(
        expected.signature.as_bytes(),
        authorization.signature.as_bytes(),
    ) {
        Ok((authorization, date))
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Compares signatures without an early exit, so the time taken says nothing about how much
/// of a forged signature was right. (A length difference may show; signatures' lengths are
/// public.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Formats a UTC time as the `X-Sdk-Date` value.
pub fn format_sdk_date(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    // The format has only numeric components, which always format.
    utc.format(SDK_DATE_FORMAT).unwrap_or_default()
}

/// Parses an `X-Sdk-Date` value (UTC).
pub fn parse_sdk_date(value: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(value, SDK_DATE_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_sdk_parts<'a>(
        method: &'a str,
        query: &'a [(String, String)],
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> RequestParts<'a> {
        RequestParts {
            method,
            path: "/path",
            query,
            headers,
            body,
        }
    }

    /// The two known answers from the Go SDK's signer tests (only `x-sdk-date` signed; the Go
    /// test request carries no Host header).
    #[test]
    fn go_sdk_known_answers() {
        let headers = vec![(DATE_HEADER.to_owned(), "20060102T150405Z".to_owned())];
        let get_query = vec![("limit".to_owned(), "1".to_owned())];
        let get = sign(
            &go_sdk_parts("GET", &get_query, &headers, b""),
            "AccessKey",
            "SecretKey",
        );
        assert_eq!(
            get.signature,
            "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
        );
        let post_query = vec![("key".to_owned(), "value".to_owned())];
        let post = sign(
            &go_sdk_parts(
                "POST",
                &post_query,
                &headers,
                b"{\"Name\":\"test\",\"Id\":1}\n",
            ),
            "AccessKey",
            "SecretKey",
        );
        assert_eq!(
            post.signature,
            "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_tampering() {
        let mut headers = vec![
            (DATE_HEADER.to_owned(), "20240102T030405Z".to_owned()),
            ("Host".to_owned(), "example.com".to_owned()),
        ];
        let query = vec![];
        let parts = RequestParts {
            method: "POST",
            path: "/v1/x",
            query: &query,
            headers: &headers,
            body: b"{}",
        };
        let authorization = sign(&parts, "ak", "sk").authorization;
        headers.push(("Authorization".to_owned(), authorization));
        let signed = RequestParts {
            method: "POST",
            path: "/v1/x",
            query: &query,
            headers: &headers,
            body: b"{}",
        };
        let (auth, _) = verify(&signed, |ak| (ak == "ak").then_some("sk")).unwrap();
        assert_eq!(auth.access_key, "ak");
        assert_eq!(
            verify(&signed, |_| Some("other")).unwrap_err(),
            VerifyError::Mismatch
        );
        let tampered = RequestParts {
            body: b"{\"a\":1}",
            ..signed
        };
        assert_eq!(
            verify(&tampered, |_| Some("sk")).unwrap_err(),
            VerifyError::Mismatch
        );
        assert_eq!(
            verify(&signed, |_| None).unwrap_err(),
            VerifyError::UnknownAccessKey
        );
    }

    #[test]
    fn authorization_parse_rejects_garbage() {
        for bad in [
            "",
            "Bearer x",
            "SDK-HMAC-SHA256",
            "SDK-HMAC-SHA256Access=a, SignedHeaders=b, Signature=c",
            "SDK-HMAC-SHA256 Access=a, Signature=c",
            "SDK-HMAC-SHA256 Access=a, SignedHeaders=b, Signature=c, Extra=d",
        ] {
            assert!(Authorization::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn sdk_date_round_trips() {
        let date = parse_sdk_date("20060102T150405Z").unwrap();
        assert_eq!(format_sdk_date(date.assume_utc()), "20060102T150405Z");
        assert!(parse_sdk_date("2006-01-02").is_none());
    }
}
