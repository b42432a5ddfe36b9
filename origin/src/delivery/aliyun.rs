//! Aliyun SMS: `SendSms` (API version 2017-05-25), an RPC-style call whose parameters travel in
//! the query string of a `POST /`, signed with `ACS3-HMAC-SHA256` (Aliyun's V3 signature):
//!
//! ```text
//! CanonicalRequest = METHOD \n /  \n sorted, RFC 3986-encoded query \n
//!                    name:value\n for each signed header (lower case, sorted) \n
//!                    signed header names joined by ';' \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,
//!                    Signature=hex(hmac_sha256(AccessKeySecret, StringToSign))
//! ```
//!
//! `tests/vectors/aliyun/` holds requests signed by Aliyun's own Python SDK
//! (`alibabacloud-dysmsapi20170525`) that the tests below check this signer against.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::delivery::{Failure, Message, MessageKind, host_of};
use crate::notify::settings::AliyunSms;

pub const ACTION: &str = "SendSms";
pub const VERSION: &str = "2017-05-25";
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

pub struct Client {
    settings: AliyunSms,
    http: reqwest::Client,
}

impl Client {
    pub fn new(settings: AliyunSms, timeout: Duration) -> anyhow::Result<Client> {
        Ok(Client {
            settings,
            http: super::http_client(timeout)?,
        })
    }

    /// Sends one message; the provider's message id (`BizId`) when it took it.
    pub async fn send(&self, message: &Message) -> Result<Option<String>, Failure> {
        let query = query(&self.settings, message)?;
        let now = crate::clock::now();
        let nonce = crate::ids::random_hex(16);
        let request = signed(&self.settings, &query, now, &nonce);
        let mut builder = self
            .http
            .post(format!("{}/?{}", self.settings.endpoint, request.query));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder
            .send()
            .await
            .map_err(|error| Failure::Transient(format!("aliyun: {}", super::describe(&error))))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        answer(status.as_u16(), &body)
    }
}

/// The `SendSms` parameters for `message`.
pub fn query(settings: &AliyunSms, message: &Message) -> Result<Vec<(String, String)>, Failure> {
    let (template, param) = match &message.kind {
        MessageKind::Code { code, .. } => (
            settings.template_code.clone(),
            Some(json!({ "code": code }).to_string()),
        ),
        MessageKind::Notice { .. } => match &settings.notice_template_code {
            Some(template) => (template.clone(), None),
            None => {
                return Err(Failure::Permanent(
                    "aliyun: no notice template is configured".into(),
                ));
            }
        },
    };
    let mut query = vec![
        ("PhoneNumbers".to_owned(), phone_number(&message.to)),
        ("SignName".to_owned(), settings.sign_name.clone()),
        ("TemplateCode".to_owned(), template),
    ];
    if let Some(param) = param {
        query.push(("TemplateParam".to_owned(), param));
    }
    Ok(query)
}

/// Aliyun takes mainland numbers as 11 digits and others as country code and number, no `+`.
pub fn phone_number(canonical: &str) -> String {
    canonical.trim_start_matches('+').to_owned()
}

/// A request ready to send: its query string and the headers to set (Authorization included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub query: String,
    pub headers: Vec<(String, String)>,
}

/// Signs `SendSms` with `query` at `now` (Unix seconds) with `nonce`. The signed headers are
/// `host` and every `x-acs-*` header sent; the body is empty.
pub fn signed(settings: &AliyunSms, query: &[(String, String)], now: i64, nonce: &str) -> Signed {
    let empty_body_hash = hex::encode(Sha256::digest(b""));
    let mut headers = vec![
        ("host".to_owned(), host_of(&settings.endpoint)),
        ("x-acs-action".to_owned(), ACTION.to_owned()),
        ("x-acs-content-sha256".to_owned(), empty_body_hash.clone()),
        ("x-acs-date".to_owned(), iso8601(now)),
        ("x-acs-signature-nonce".to_owned(), nonce.to_owned()),
        ("x-acs-version".to_owned(), VERSION.to_owned()),
    ];
    let authorization = authorization(
        "POST",
        "/",
        query,
        &headers,
        &empty_body_hash,
        &settings.access_key_id,
        settings.access_key_secret.expose(),
    );
    // reqwest sets Host from the URL; it is signed above, not sent twice.
    headers.retain(|(name, _)| name != "host");
    headers.push(("authorization".to_owned(), authorization));
    Signed {
        query: canonical_query(query),
        headers,
    }
}

/// `2024-05-01T08:00:00Z`.
pub fn iso8601(unix_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

/// RFC 3986 encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` of its UTF-8 bytes.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Parameters sorted by name, `name=value` with both encoded, joined by `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` header for a request whose headers to sign are `headers`.
pub fn authorization(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload_hash: &str,
    access_key_id: &str,
    access_key_secret: &str,
) -> String {
    let (canonical_headers, signed_headers) = canonical_headers(headers);
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        canonical_query(query)
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(access_key_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// `name:value\n` per header (names lower-cased and sorted, values trimmed) and the names
/// joined by `;`.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    lowered.sort();
    let canonical = lowered
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect::<String>();
    let names = lowered
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, names)
}

/// Reads Aliyun's answer: `{"Code":"OK","BizId":…}` when sent; otherwise its error `Code`
/// decides whether another try can help.
pub fn answer(status: u16, body: &str) -> Result<Option<String>, Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed["Code"].as_str().unwrap_or_default();
    if (200..300).contains(&status) && code == "OK" {
        return Ok(parsed["BizId"].as_str().map(str::to_owned));
    }
    let description = if code.is_empty() {
        format!("aliyun: HTTP {status}")
    } else {
        format!(
            "aliyun: HTTP {status} {code}: {} (RequestId {})",
            parsed["Message"].as_str().unwrap_or_default(),
            parsed["RequestId"].as_str().unwrap_or_default()
        )
    };
    let transient = status >= 500
        || status == 429
        || ["isp.", "Throttling", "ServiceUnavailable", "InternalError"]
            .iter()
            .any(|prefix| code.starts_with(prefix))
        || code == "isv.BUSINESS_LIMIT_CONTROL"
        || code == "SignatureNonceUsed";
    Err(if transient {
        Failure::Transient(description)
    } else {
        Failure::Permanent(description)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../../tests/vectors/aliyun/vectors.json")).unwrap()
    }

    fn pairs(object: &Value) -> Vec<(String, String)> {
        object
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn the_signer_agrees_with_the_aliyun_sdk_on_the_requests_it_made() {
        let vectors = vectors();
        let cases = vectors["sdk_requests"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let signed_names = case["authorization"]
                .as_str()
                .unwrap()
                .split("SignedHeaders=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .split(';')
                .map(str::to_owned)
                .collect::<Vec<_>>();
            let headers: Vec<(String, String)> = pairs(&case["headers"])
                .into_iter()
                .filter(|(name, _)| signed_names.contains(&name.to_ascii_lowercase()))
                .collect();
            let got = authorization(
                case["method"].as_str().unwrap(),
                case["path"].as_str().unwrap(),
                &pairs(&case["query"]),
                &headers,
                case["headers"]["x-acs-content-sha256"].as_str().unwrap(),
                vectors["access_key_id"].as_str().unwrap(),
                vectors["access_key_secret"].as_str().unwrap(),
            );
            assert_eq!(got, case["authorization"].as_str().unwrap());
        }
    }

    #[test]
    fn our_request_signs_as_the_aliyun_sdk_signs_the_same_request() {
        let vectors = vectors();
        for case in vectors["our_requests"].as_array().unwrap() {
            let settings = AliyunSms {
                access_key_id: vectors["access_key_id"].as_str().unwrap().into(),
                access_key_secret: Secret::new(vectors["access_key_secret"].as_str().unwrap()),
                sign_name: case["sign_name"].as_str().unwrap().into(),
                template_code: case["template_code"].as_str().unwrap().into(),
                notice_template_code: None,
                endpoint: format!("https://{}", case["host"].as_str().unwrap()),
            };
            let message = Message::code(
                case["phone"].as_str().unwrap(),
                case["code"].as_str().unwrap(),
                5,
            );
            let query = query(&settings, &message).unwrap();
            assert_eq!(query, pairs(&case["query"]));
            let signed = signed(
                &settings,
                &query,
                case["unix_time"].as_i64().unwrap(),
                case["nonce"].as_str().unwrap(),
            );
            let header = |name: &str| {
                signed
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            assert_eq!(header("x-acs-date"), case["date"].as_str().unwrap());
            assert_eq!(
                header("authorization"),
                case["authorization"].as_str().unwrap()
            );
            assert_eq!(signed.query, case["canonical_query"].as_str().unwrap());
        }
    }

    #[test]
    fn errors_that_a_later_try_can_mend_are_told_from_those_it_cannot() {
        assert_eq!(
            answer(
                200,
                r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"R"}"#
            ),
            Ok(Some("900619746936498440^0".into()))
        );
        assert!(matches!(
            answer(503, "upstream down"),
            Err(Failure::Transient(_))
        ));
        assert!(matches!(
            answer(
                200,
                r#"{"Code":"isp.SYSTEM_ERROR","Message":"x","RequestId":"R"}"#
            ),
            Err(Failure::Transient(_))
        ));
        let Err(Failure::Permanent(error)) = answer(
            400,
            r#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched","RequestId":"R"}"#,
        ) else {
            panic!("a bad signature is not worth retrying");
        };
        assert!(error.contains("SignatureDoesNotMatch"), "{error}");
        assert!(matches!(
            answer(
                200,
                r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"x","RequestId":"R"}"#
            ),
            Err(Failure::Permanent(_))
        ));
        assert_eq!(percent_encode("a b*~/中"), "a%20b%2A~%2F%E4%B8%AD");
    }
}
