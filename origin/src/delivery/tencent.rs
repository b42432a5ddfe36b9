//! Tencent Cloud SMS: `SendSms` (API version 2021-01-11), a JSON `POST /` signed with
//! `TC3-HMAC-SHA256`:
//!
//! ```text
//! CanonicalRequest = POST \n / \n \n content-type:application/json\nhost:<host>\n \n
//!                    content-type;host \n hex(sha256(body))
//! StringToSign     = TC3-HMAC-SHA256 \n <timestamp> \n <date>/sms/tc3_request \n
//!                    hex(sha256(CanonicalRequest))
//! key              = hmac(hmac(hmac("TC3" + SecretKey, date), "sms"), "tc3_request")
//! Authorization    = TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
//!                    SignedHeaders=content-type;host, Signature=hex(hmac(key, StringToSign))
//! ```
//!
//! `<date>` is the UTC day of `X-TC-Timestamp`; Tencent refuses a timestamp more than five
//! minutes off. `tests/vectors/tencent/` holds requests signed by `tencentcloud-sdk-python`
//! that the tests below check this signer against.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::delivery::{Failure, Message, MessageKind, host_of};
use crate::notify::settings::TencentSms;

pub const ACTION: &str = "SendSms";
pub const VERSION: &str = "2021-01-11";
pub const SERVICE: &str = "sms";
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const CONTENT_TYPE: &str = "application/json";

pub struct Client {
    settings: TencentSms,
    http: reqwest::Client,
}

impl Client {
    pub fn new(settings: TencentSms, timeout: Duration) -> anyhow::Result<Client> {
        Ok(Client {
            settings,
            http: super::http_client(timeout)?,
        })
    }

    /// Sends one message; the provider's message id (`SerialNo`) when it took it.
    pub async fn send(&self, message: &Message) -> Result<Option<String>, Failure> {
        let body = body(&self.settings, message)?;
        let headers = signed_headers(&self.settings, &body, crate::clock::now());
        let mut builder = self.http.post(format!("{}/", self.settings.endpoint));
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response =
            builder.body(body).send().await.map_err(|error| {
                Failure::Transient(format!("tencent: {}", super::describe(&error)))
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        answer(status.as_u16(), &text)
    }
}

/// The `SendSms` body for `message`.
pub fn body(settings: &TencentSms, message: &Message) -> Result<String, Failure> {
    let (template, params) = match &message.kind {
        MessageKind::Code {
            code,
            lifetime_minutes,
        } => (
            settings.template_id.clone(),
            vec![code.clone(), lifetime_minutes.to_string()],
        ),
        MessageKind::Notice { .. } => match &settings.notice_template_id {
            Some(template) => (template.clone(), Vec::new()),
            None => {
                return Err(Failure::Permanent(
                    "tencent: no notice template is configured".into(),
                ));
            }
        },
    };
    Ok(json!({
        "PhoneNumberSet": [phone_number(&message.to)],
        "SmsSdkAppId": settings.app_id,
        "SignName": settings.sign_name,
        "TemplateId": template,
        "TemplateParamSet": params,
    })
    .to_string())
}

/// Tencent takes E.164: a mainland number gets `+86`.
pub fn phone_number(canonical: &str) -> String {
    if canonical.starts_with('+') {
        canonical.to_owned()
    } else {
        format!("+86{canonical}")
    }
}

/// The headers of a `SendSms` call with `body` at `timestamp` (Unix seconds), Authorization
/// included; Host comes from the URL.
pub fn signed_headers(settings: &TencentSms, body: &str, timestamp: i64) -> Vec<(String, String)> {
    let authorization = authorization(
        &host_of(&settings.endpoint),
        CONTENT_TYPE,
        body.as_bytes(),
        timestamp,
        &settings.secret_id,
        settings.secret_key.expose(),
    );
    vec![
        ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
        ("x-tc-action".to_owned(), ACTION.to_owned()),
        ("x-tc-timestamp".to_owned(), timestamp.to_string()),
        ("x-tc-version".to_owned(), VERSION.to_owned()),
        ("x-tc-region".to_owned(), settings.region.clone()),
        ("authorization".to_owned(), authorization),
    ]
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The UTC day of `timestamp`, `2024-05-01`.
pub fn utc_date(timestamp: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

/// The `Authorization` header for a `POST /` to `host` carrying `payload`.
pub fn authorization(
    host: &str,
    content_type: &str,
    payload: &[u8],
    timestamp: i64,
    secret_id: &str,
    secret_key: &str,
) -> String {
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(payload))
    );
    let date = utc_date(timestamp);
    let scope = format!("{date}/{SERVICE}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = hmac(
        &hmac(&hmac(format!("TC3{secret_key}").as_bytes(), &date), SERVICE),
        "tc3_request",
    );
    let signature = hex::encode(hmac(&key, &string_to_sign));
    format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
    )
}

/// Reads Tencent's answer: `Response.Error` for a refused call, else the one number's
/// `SendStatusSet` entry (`Code` `Ok` when sent).
pub fn answer(status: u16, body: &str) -> Result<Option<String>, Failure> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let response = &parsed["Response"];
    let request_id = response["RequestId"].as_str().unwrap_or_default();
    let (code, message) = if let Some(error) = response.get("Error") {
        (
            error["Code"].as_str().unwrap_or_default(),
            error["Message"].as_str().unwrap_or_default(),
        )
    } else if let Some(first) = response["SendStatusSet"].get(0) {
        if (200..300).contains(&status) && first["Code"] == "Ok" {
            return Ok(first["SerialNo"].as_str().map(str::to_owned));
        }
        (
            first["Code"].as_str().unwrap_or_default(),
            first["Message"].as_str().unwrap_or_default(),
        )
    } else {
        ("", "")
    };
    let description = if code.is_empty() {
        format!("tencent: HTTP {status}")
    } else {
        format!("tencent: HTTP {status} {code}: {message} (RequestId {request_id})")
    };
    let transient = status >= 500
        || status == 429
        || code.is_empty() && !(200..300).contains(&status)
        || [
            "InternalError",
            "RequestLimitExceeded",
            "LimitExceeded.PhoneNumberThirtySecondLimit",
        ]
        .iter()
        .any(|prefix| code.starts_with(prefix));
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
        serde_json::from_str(include_str!("../../../tests/vectors/tencent/vectors.json")).unwrap()
    }

    #[test]
    fn the_signer_agrees_with_the_tencent_sdk_on_the_requests_it_made() {
        let vectors = vectors();
        let cases = vectors["sdk_requests"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let headers = &case["headers"];
            let got = authorization(
                headers["host"].as_str().unwrap(),
                headers["content-type"].as_str().unwrap(),
                case["body"].as_str().unwrap().as_bytes(),
                headers["x-tc-timestamp"].as_str().unwrap().parse().unwrap(),
                vectors["secret_id"].as_str().unwrap(),
                vectors["secret_key"].as_str().unwrap(),
            );
            assert_eq!(got, headers["authorization"].as_str().unwrap());
        }
    }

    #[test]
    fn our_request_signs_as_the_tencent_sdk_signs_the_same_body() {
        let vectors = vectors();
        for case in vectors["our_requests"].as_array().unwrap() {
            let settings = TencentSms {
                secret_id: vectors["secret_id"].as_str().unwrap().into(),
                secret_key: Secret::new(vectors["secret_key"].as_str().unwrap()),
                app_id: case["app_id"].as_str().unwrap().into(),
                sign_name: case["sign_name"].as_str().unwrap().into(),
                template_id: case["template_id"].as_str().unwrap().into(),
                notice_template_id: None,
                region: "ap-guangzhou".into(),
                endpoint: format!("https://{}", case["host"].as_str().unwrap()),
            };
            let message = Message::code(
                case["phone"].as_str().unwrap(),
                case["code"].as_str().unwrap(),
                case["minutes"].as_i64().unwrap(),
            );
            let body = body(&settings, &message).unwrap();
            let ours: Value = serde_json::from_str(&body).unwrap();
            let theirs: Value = serde_json::from_str(case["body"].as_str().unwrap()).unwrap();
            assert_eq!(ours, theirs, "the same parameters as the SDK sends");
            // Signing the SDK's bytes of that body at its time gives the SDK's header.
            let headers = signed_headers(
                &settings,
                case["body"].as_str().unwrap(),
                case["timestamp"].as_i64().unwrap(),
            );
            assert_eq!(headers[5].1, case["authorization"].as_str().unwrap());
        }
    }

    #[test]
    fn errors_that_a_later_try_can_mend_are_told_from_those_it_cannot() {
        let sent = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}"#;
        assert_eq!(
            answer(200, sent),
            Ok(Some("5000:1045710669157053657849499619".into()))
        );
        let refused = r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"r"}}"#;
        let Err(Failure::Permanent(error)) = answer(200, refused) else {
            panic!("a bad signature is not worth retrying");
        };
        assert!(error.contains("AuthFailure.SignatureFailure"), "{error}");
        let busy = r#"{"Response":{"Error":{"Code":"InternalError.Timeout","Message":"x"},"RequestId":"r"}}"#;
        assert!(matches!(answer(200, busy), Err(Failure::Transient(_))));
        assert!(matches!(
            answer(502, "bad gateway"),
            Err(Failure::Transient(_))
        ));
        let number = r#"{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800138000","Fee":0,"SessionContext":"","Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad","IsoCode":"CN"}],"RequestId":"r"}}"#;
        assert!(matches!(answer(200, number), Err(Failure::Permanent(_))));
        assert_eq!(phone_number("13800138000"), "+8613800138000");
        assert_eq!(phone_number("+85291234567"), "+85291234567");
    }
}
