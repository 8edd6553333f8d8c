#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Replays the vectors that the official Python signer (`huaweicloudsdkcore` 3.1.219) produced
//! in `tests/vectors/` (re-generate them with `tests/vectors/make_vectors.py`).

use hwc_signer::{canonical_query, sign, verify, RequestParts};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
    go_sdk_vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    ak: String,
    sk: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: String,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    signed_headers: String,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
    authorization: String,
    /// Headers the SDK added or rewrote before signing (Host, X-Sdk-Content-Sha256, trimmed
    /// values); our transport adds the same ones itself.
    #[serde(default)]
    headers_added: Vec<(String, String)>,
    /// Path plus the query as the SDK puts it on the wire.
    uri: Option<String>,
}

fn load() -> VectorFile {
    let text = include_str!("vectors/vectors.json");
    serde_json::from_str(text).expect("vectors.json parses")
}

/// The headers as they stand when the SDK signs: the vector's own, with the SDK's additions
/// applied by (case-insensitive) name.
fn final_headers(vector: &Vector) -> Vec<(String, String)> {
    let mut headers = vector.headers.clone();
    for (name, value) in &vector.expected.headers_added {
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value.clone(),
            None => headers.push((name.clone(), value.clone())),
        }
    }
    headers
}

fn check(vector: &Vector) {
    let headers = final_headers(vector);
    let parts = RequestParts {
        method: &vector.method,
        path: &vector.path,
        query: &vector.query,
        headers: &headers,
        body: vector.body.as_bytes(),
    };
    let got = sign(&parts, &vector.ak, &vector.sk);
    let name = &vector.name;
    assert_eq!(
        got.canonical_request, vector.expected.canonical_request,
        "{name}: canonical request"
    );
    assert_eq!(
        got.string_to_sign, vector.expected.string_to_sign,
        "{name}: string to sign"
    );
    assert_eq!(
        got.signed_headers, vector.expected.signed_headers,
        "{name}: signed headers"
    );
    assert_eq!(
        got.signature, vector.expected.signature,
        "{name}: signature"
    );
    assert_eq!(
        got.authorization, vector.expected.authorization,
        "{name}: authorization"
    );

    if let Some(uri) = &vector.expected.uri {
        let query = canonical_query(&vector.query);
        let wire = if query.is_empty() {
            vector.path.clone()
        } else {
            format!("{}?{query}", vector.path)
        };
        assert_eq!(&wire, uri, "{name}: wire uri");
    }

    let mut received = headers.clone();
    received.push(("Authorization".to_owned(), got.authorization));
    let received = RequestParts {
        headers: &received,
        ..parts
    };
    let verified = verify(&received, |ak| {
        (ak == vector.ak).then_some(vector.sk.as_str())
    });
    assert!(
        verified.is_ok(),
        "{name}: own signature does not verify: {verified:?}"
    );
}

#[test]
fn python_sdk_vectors_reproduce() {
    let file = load();
    assert!(
        file.vectors.len() >= 50,
        "only {} vectors",
        file.vectors.len()
    );
    for vector in &file.vectors {
        check(vector);
    }
}

#[test]
fn go_sdk_known_answers_reproduce() {
    let file = load();
    assert_eq!(file.go_sdk_vectors.len(), 2);
    for vector in &file.go_sdk_vectors {
        check(vector);
    }
}
