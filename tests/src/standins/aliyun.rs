//! Aliyun SMS `SendSms` (2017-05-25) with the V3 signature `ACS3-HMAC-SHA256`, checked as
//! Aliyun's gateway documents it: the access key must exist; `host` and every `x-acs-*` header
//! must be signed; `x-acs-content-sha256` must be the body's hash; `x-acs-date` within 15
//! minutes of now (`InvalidTimeStamp.Expired`); a nonce only once (`SignatureNonceUsed`); the
//! signature recomputed from the request as it arrived (`SignatureDoesNotMatch`). Gateway
//! errors answer 400/404 with `{RequestId, HostId, Code, Message, Recommend}`; business errors
//! 200 with `{Code, Message, RequestId}`; success `{Code: "OK", BizId, RequestId}`.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Accepted, Arrived, Fault, Log, StandIn, hmac_sha256, serve, sha256_hex, unix_now};

/// What the stand-in's account holds: one key, one approved signature, its templates.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    pub templates: Vec<String>,
}

pub async fn start(account: Account) -> StandIn {
    serve(Arc::new(Mutex::new(Log::default())), move |arrived, log| {
        let mut log = log.lock().unwrap();
        let (status, code, message) = match check(&account, arrived, &mut log) {
            Ok(accepted) => {
                let answer = json!({
                    "Code": "OK", "Message": "OK", "BizId": accepted.message_id,
                    "RequestId": "STANDIN-REQUEST",
                });
                log.accepted.push(accepted);
                return (StatusCode::OK, answer.to_string());
            }
            Err(refusal) => refusal,
        };
        log.refused.push(code.clone());
        if code == "ServiceUnavailable" {
            return (status, "Service Unavailable".into());
        }
        let mut body = json!({ "Code": code, "Message": message, "RequestId": "STANDIN-REQUEST" });
        if status != StatusCode::OK {
            body["HostId"] = json!("dysmsapi.aliyuncs.com");
            body["Recommend"] = json!("https://api.aliyun.com/troubleshoot");
        }
        (status, body.to_string())
    })
    .await
}

type Refusal = (StatusCode, String, String);

fn refuse(status: StatusCode, code: &str, message: &str) -> Refusal {
    (status, code.to_owned(), message.to_owned())
}

fn check(account: &Account, arrived: &Arrived, log: &mut Log) -> Result<Accepted, Refusal> {
    let bad = StatusCode::BAD_REQUEST;
    let authorization = arrived.header("authorization");
    let fields = authorization
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .ok_or_else(|| {
            refuse(
                bad,
                "IncompleteSignature",
                "unsupported signature algorithm",
            )
        })?;
    let field = |name: &str| {
        fields
            .split(',')
            .find_map(|part| part.trim().strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    let (key_id, signed_headers, signature) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    );
    if key_id != account.access_key_id {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    }
    let signed: Vec<&str> = signed_headers.split(';').collect();
    let must_sign = arrived
        .headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("x-acs-") || *name == "host")
        .find(|name| !signed.contains(name));
    if let Some(name) = must_sign {
        return Err(refuse(
            bad,
            "IncompleteSignature",
            &format!("header {name} must be signed"),
        ));
    }
    if arrived.header("x-acs-content-sha256") != sha256_hex(&arrived.body) {
        return Err(refuse(
            bad,
            "ContentSHA256NotMatch",
            "x-acs-content-sha256 is not the body's hash",
        ));
    }
    if arrived.header("x-acs-action") != "SendSms"
        || arrived.header("x-acs-version") != "2017-05-25"
    {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found",
        ));
    }
    let date = OffsetDateTime::parse(arrived.header("x-acs-date"), &Rfc3339)
        .map_err(|_| refuse(bad, "InvalidTimeStamp.Format", "x-acs-date is not ISO 8601"))?;
    if (date.unix_timestamp() - unix_now()).abs() > 15 * 60 {
        return Err(refuse(
            bad,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    // The query as it arrived, decoded, then canonicalised again.
    let query: Vec<(String, String)> =
        form_urlencoded::parse(arrived.uri.query().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let mut encoded: Vec<String> = query
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    encoded.sort();
    let canonical_headers: String = signed
        .iter()
        .map(|name| format!("{name}:{}\n", arrived.header(name).trim()))
        .collect();
    let canonical_request = format!(
        "POST\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        arrived.uri.path(),
        encoded.join("&"),
        sha256_hex(&arrived.body)
    );
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let expected = hex::encode(hmac_sha256(
        account.access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    if !shared::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(refuse(
            bad,
            "SignatureDoesNotMatch",
            &format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        ));
    }
    let nonce = arrived.header("x-acs-signature-nonce").to_owned();
    if nonce.is_empty() || log.seen_nonces.contains(&nonce) {
        return Err(refuse(
            bad,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    log.seen_nonces.push(nonce);
    match log.faults.pop_front() {
        Some(Fault::Outage) => {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "",
            ));
        }
        Some(Fault::Error(code)) => {
            return Err(refuse(StatusCode::OK, &code, "refused by the test"));
        }
        None => {}
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let phone = param("PhoneNumbers");
    if phone.is_empty() || !phone.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(refuse(
            StatusCode::OK,
            "isv.MOBILE_NUMBER_ILLEGAL",
            "非法手机号",
        ));
    }
    if param("SignName") != account.sign_name {
        return Err(refuse(
            StatusCode::OK,
            "isv.SMS_SIGNATURE_ILLEGAL",
            "该账号下找不到对应签名",
        ));
    }
    let template = param("TemplateCode");
    if !account.templates.contains(&template) {
        return Err(refuse(
            StatusCode::OK,
            "isv.SMS_TEMPLATE_ILLEGAL",
            "该账号下找不到对应模板",
        ));
    }
    let template_param = param("TemplateParam");
    let params: Value = if template_param.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&template_param)
            .map_err(|_| refuse(StatusCode::OK, "isv.INVALID_JSON_PARAM", "JSON参数不合法"))?
    };
    let message_id = format!(
        "{}^0",
        900_000_000_000_000_000u64 + log.accepted.len() as u64
    );
    Ok(Accepted {
        phone,
        sign_name: param("SignName"),
        template,
        params,
        message_id,
    })
}

/// RFC 3986: unreserved characters stay, everything else is `%XX` (upper case).
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
