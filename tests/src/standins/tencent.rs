//! Tencent Cloud SMS `SendSms` (2021-01-11) with `TC3-HMAC-SHA256`, checked as Tencent's API
//! gateway documents it: the SecretId must exist (`AuthFailure.SecretIdNotFound`);
//! `X-TC-Timestamp` within five minutes of now (`AuthFailure.SignatureExpire`); the credential
//! scope's date the timestamp's UTC day and its service `sms`; `content-type` and `host`
//! signed; the signature recomputed from the request as it arrived
//! (`AuthFailure.SignatureFailure`). TC3 carries no nonce, so there is none to replay-check.
//! Every answer is HTTP 200 with `{"Response": {…, "RequestId"}}`: `Error {Code, Message}` for
//! a refused call, `SendStatusSet` with one entry per number otherwise.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Accepted, Arrived, Fault, Log, StandIn, hmac_sha256, serve, sha256_hex, unix_now};

#[derive(Debug, Clone)]
pub struct Account {
    pub secret_id: String,
    pub secret_key: String,
    pub app_id: String,
    pub sign_name: String,
    pub templates: Vec<String>,
}

/// How a call ended, before it is put in Tencent's shape.
enum Answer {
    /// `Response.Error`.
    Error(String, String),
    /// One `SendStatusSet` entry that is not `Ok`.
    NumberFailed(String, String, String),
    Outage,
}

pub async fn start(account: Account) -> StandIn {
    serve(Arc::new(Mutex::new(Log::default())), move |arrived, log| {
        let mut log = log.lock().unwrap();
        let answer = match check(&account, arrived, &mut log) {
            Ok(accepted) => {
                let body = json!({ "Response": {
                    "SendStatusSet": [{
                        "SerialNo": accepted.message_id, "PhoneNumber": accepted.phone, "Fee": 1,
                        "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN",
                    }],
                    "RequestId": "standin-request",
                }});
                log.accepted.push(accepted);
                return (StatusCode::OK, body.to_string());
            }
            Err(answer) => answer,
        };
        match answer {
            Answer::Outage => {
                log.refused.push("Outage".into());
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable".into())
            }
            Answer::Error(code, message) => {
                log.refused.push(code.clone());
                let body = json!({ "Response": {
                    "Error": { "Code": code, "Message": message }, "RequestId": "standin-request",
                }});
                (StatusCode::OK, body.to_string())
            }
            Answer::NumberFailed(phone, code, message) => {
                log.refused.push(code.clone());
                let body = json!({ "Response": {
                    "SendStatusSet": [{
                        "SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": "",
                        "Code": code, "Message": message, "IsoCode": "CN",
                    }],
                    "RequestId": "standin-request",
                }});
                (StatusCode::OK, body.to_string())
            }
        }
    })
    .await
}

fn error(code: &str, message: &str) -> Answer {
    Answer::Error(code.to_owned(), message.to_owned())
}

fn check(account: &Account, arrived: &Arrived, log: &mut Log) -> Result<Accepted, Answer> {
    let authorization = arrived.header("authorization");
    let fields = authorization
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or_else(|| {
            error(
                "AuthFailure.InvalidAuthorization",
                "Authorization is not TC3-HMAC-SHA256",
            )
        })?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|part| part.strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    let (credential, signed_headers, signature) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [secret_id, date, service, "tc3_request"] = scope[..] else {
        return Err(error(
            "AuthFailure.InvalidAuthorization",
            "Credential is malformed",
        ));
    };
    if secret_id != account.secret_id {
        return Err(error(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found",
        ));
    }
    let timestamp: i64 = arrived
        .header("x-tc-timestamp")
        .parse()
        .map_err(|_| error("InvalidParameter", "X-TC-Timestamp is not a number"))?;
    if (timestamp - unix_now()).abs() > 300 {
        return Err(error(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot differ by more than 5 minutes.",
        ));
    }
    let day = OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap()
        .date()
        .to_string();
    if date != day || service != "sms" {
        return Err(error(
            "AuthFailure.InvalidAuthorization",
            "the credential scope does not match the timestamp or service",
        ));
    }
    let signed: Vec<&str> = signed_headers.split(';').collect();
    if !signed.contains(&"content-type") || !signed.contains(&"host") {
        return Err(error(
            "AuthFailure.InvalidAuthorization",
            "content-type and host must be signed",
        ));
    }
    let canonical_headers: String = signed
        .iter()
        .map(|name| {
            format!(
                "{name}:{}\n",
                arrived.header(name).trim().to_ascii_lowercase()
            )
        })
        .collect();
    let canonical_request = format!(
        "POST\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        arrived.uri.path(),
        arrived.uri.query().unwrap_or_default(),
        sha256_hex(&arrived.body)
    );
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = hmac_sha256(
        &hmac_sha256(
            &hmac_sha256(
                format!("TC3{}", account.secret_key).as_bytes(),
                date.as_bytes(),
            ),
            service.as_bytes(),
        ),
        b"tc3_request",
    );
    let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    if !shared::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    if arrived.header("x-tc-action") != "SendSms" || arrived.header("x-tc-version") != "2021-01-11"
    {
        return Err(error(
            "InvalidAction",
            "The action or version is not supported",
        ));
    }
    if arrived.header("x-tc-region").is_empty() {
        return Err(error("MissingParameter", "X-TC-Region is required"));
    }
    match log.faults.pop_front() {
        Some(Fault::Outage) => return Err(Answer::Outage),
        Some(Fault::Error(code)) => return Err(error(&code, "refused by the test")),
        None => {}
    }
    let body: Value = serde_json::from_slice(&arrived.body)
        .map_err(|_| error("InvalidParameter", "the body is not JSON"))?;
    if body["SmsSdkAppId"] != account.app_id.as_str() {
        return Err(error(
            "FailedOperation.SmsSdkAppIdVerifyFail",
            "SdkAppId verification failed",
        ));
    }
    if body["SignName"] != account.sign_name.as_str() {
        return Err(error(
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "the signature is not approved",
        ));
    }
    let template = body["TemplateId"].as_str().unwrap_or_default().to_owned();
    if !account.templates.contains(&template) {
        return Err(error(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "the template is not approved",
        ));
    }
    let phone = body["PhoneNumberSet"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if digits.len() < 8 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Answer::NumberFailed(
            phone,
            "InvalidParameterValue.IncorrectPhoneNumber".into(),
            "手机号格式错误".into(),
        ));
    }
    let message_id = format!(
        "5000:{}",
        1_045_710_669_157_053_657u64 + log.accepted.len() as u64
    );
    Ok(Accepted {
        phone,
        sign_name: account.sign_name.clone(),
        template,
        params: body["TemplateParamSet"].clone(),
        message_id,
    })
}
