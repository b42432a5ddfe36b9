//! Our signing, verifying and decrypting against golden vectors made once with the providers'
//! official SDKs (`tests/vectors/generate.py`: `alipay-sdk-python`, `wechatpayv3`), with the
//! TEST-ONLY keys committed beside them.

use std::path::PathBuf;

use serde_json::Value;

use super::alipay::{Alipay, sign_content};
use super::wechat::WechatPay;
use super::{
    AlipaySettings, Callback, NewOrder, Notification, PaymentProvider, ProviderError, Verified,
    WechatPaySettings,
};
use crate::config::Secret;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn vectors(provider: &str) -> Value {
    let text = std::fs::read_to_string(vectors_dir().join(provider).join("vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn text<'a>(vectors: &'a Value, pointer: &str) -> &'a str {
    vectors.pointer(pointer).and_then(Value::as_str).unwrap()
}

fn alipay(vectors: &Value, private_key: &str) -> Alipay {
    let dir = vectors_dir().join("alipay");
    let settings = AlipaySettings {
        app_id: text(vectors, "/app_id").into(),
        private_key: dir.join(private_key),
        public_key: dir.join("TEST-ONLY-alipay-public-key.pem"),
        gateway: "http://127.0.0.1:9/gateway.do".into(),
    };
    Alipay::new(&settings, text(vectors, "/notify_url").into()).unwrap()
}

fn wechat(vectors: &Value) -> WechatPay {
    let dir = vectors_dir().join("wechatpay");
    let settings = WechatPaySettings {
        mch_id: text(vectors, "/mchid").into(),
        app_id: text(vectors, "/appid").into(),
        mch_serial: text(vectors, "/serial_no").into(),
        private_key: dir.join("TEST-ONLY-merchant-private-key.pem"),
        api_v3_key: Secret::new(text(vectors, "/api_v3_key")),
        public_key: dir.join("TEST-ONLY-platform-public-key.pem"),
        public_key_id: text(vectors, "/public_key_id").into(),
        api_base: "http://127.0.0.1:9".into(),
    };
    WechatPay::new(
        &settings,
        "https://shop.example.com/api/payments/wechat/notify".into(),
    )
    .unwrap()
}

fn paid(order_no: &str, amount_cents: i64, trade_no: &str) -> Verified {
    Verified::Paid(Notification {
        order_no: order_no.into(),
        amount_cents,
        trade_no: trade_no.into(),
    })
}

#[test]
fn the_alipay_order_string_is_the_sdks_byte_for_byte_with_either_key_form() {
    let vectors = vectors("alipay");
    let order = NewOrder {
        order_no: text(&vectors, "/app_pay/out_trade_no"),
        price_cents: 1250,
        pay_type: "alipay",
        subject: text(&vectors, "/app_pay/subject"),
    };
    let timestamp = text(&vectors, "/timestamp");
    for key in [
        "TEST-ONLY-app-private-key.pkcs1.pem",
        "TEST-ONLY-app-private-key.pkcs8.pem",
    ] {
        let order_string = alipay(&vectors, key).order_string(&order, timestamp);
        assert_eq!(
            order_string,
            text(&vectors, "/app_pay/order_string"),
            "{key}"
        );
    }
    let fields: Vec<(String, String)> =
        form_urlencoded::parse(text(&vectors, "/app_pay/order_string").as_bytes())
            .into_owned()
            .filter(|(name, _)| name != "sign")
            .collect();
    let content = sign_content(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(content, text(&vectors, "/app_pay/sign_content"));
}

#[test]
fn the_alipay_query_is_signed_like_the_sdks_and_its_signed_answer_is_read() {
    let vectors = vectors("alipay");
    let alipay = alipay(&vectors, "TEST-ONLY-app-private-key.pkcs1.pem");
    let order_no = text(&vectors, "/app_pay/out_trade_no");
    let (query, body) = alipay.query_request(order_no, text(&vectors, "/timestamp"));
    assert_eq!(query, text(&vectors, "/query/query_string"));
    let biz_content: String = form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "biz_content")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(biz_content, text(&vectors, "/query/biz_content"));

    let answer = text(&vectors, "/query_response/body");
    assert_eq!(
        alipay.read_query_response(answer, order_no),
        Ok(paid(order_no, 1250, "2024050122001400001000000001"))
    );
    let forged = answer.replace("\"12.50\",\"trade_no\"", "\"99.00\",\"trade_no\"");
    assert_ne!(forged, answer);
    assert!(matches!(
        alipay.read_query_response(&forged, order_no),
        Err(ProviderError::Unauthentic(_))
    ));
}

#[test]
fn an_alipay_notification_signed_by_the_sdk_is_believed_and_a_tampered_one_is_not() {
    let vectors = vectors("alipay");
    let alipay = alipay(&vectors, "TEST-ONLY-app-private-key.pkcs1.pem");
    let form = text(&vectors, "/notify/form");
    let callback = Callback {
        headers: &[],
        body: form.as_bytes(),
    };
    assert_eq!(
        alipay.verify(&callback, 0),
        Ok(paid(
            "R20240501120000ABCDEF",
            1250,
            "2024050122001400001000000001"
        ))
    );
    let tampered = form.replace("total_amount=12.50", "total_amount=1250.00");
    assert_ne!(tampered, form);
    let callback = Callback {
        headers: &[],
        body: tampered.as_bytes(),
    };
    assert_eq!(alipay.verify(&callback, 0), Err("bad signature".into()));
}

#[test]
fn wechat_pay_authorization_headers_are_the_sdks_byte_for_byte() {
    let vectors = vectors("wechatpay");
    let wechat = wechat(&vectors);
    let timestamp: i64 = text(&vectors, "/timestamp").parse().unwrap();
    let create = text(&vectors, "/create/authorization");
    let nonce = |header: &str| {
        let start = header.find("nonce_str=\"").unwrap() + 11;
        header[start..start + 32].to_owned()
    };
    assert_eq!(
        wechat.authorization(
            "POST",
            text(&vectors, "/create/path"),
            text(&vectors, "/create/body"),
            timestamp,
            &nonce(create)
        ),
        create
    );
    let query = text(&vectors, "/query/authorization");
    assert_eq!(
        wechat.authorization(
            "GET",
            text(&vectors, "/query/path"),
            "",
            timestamp,
            &nonce(query)
        ),
        query
    );
}

#[test]
fn wechat_pay_app_parameters_are_signed_like_the_sdk_signs_them() {
    let vectors = vectors("wechatpay");
    let params = wechat(&vectors).app_params(
        text(&vectors, "/app_sign/prepayid"),
        text(&vectors, "/app_sign/timestamp").parse().unwrap(),
        text(&vectors, "/app_sign/noncestr"),
    );
    assert_eq!(params["sign"], vectors["app_sign"]["sign"]);
    assert_eq!(params["package"], "Sign=WXPay");
}

#[test]
fn a_wechat_pay_callback_made_with_the_sdks_primitives_is_verified_and_decrypted() {
    let vectors = vectors("wechatpay");
    let wechat = wechat(&vectors);
    let timestamp: i64 = text(&vectors, "/timestamp").parse().unwrap();
    let headers: Vec<(String, String)> = vectors["notify"]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_owned()))
        .collect();
    let body = text(&vectors, "/notify/body");
    let callback = Callback {
        headers: &headers,
        body: body.as_bytes(),
    };
    assert_eq!(
        wechat.verify(&callback, timestamp + 299),
        Ok(paid(
            "R20240501120000ABCDEF",
            1250,
            "4200000000202405011234567890"
        ))
    );
    assert_eq!(
        wechat.verify(&callback, timestamp + 301),
        Err("Wechatpay-Timestamp too far from our clock".into())
    );
    let tampered = body.replace("支付成功", "支付失败");
    let callback = Callback {
        headers: &headers,
        body: tampered.as_bytes(),
    };
    assert_eq!(
        wechat.verify(&callback, timestamp),
        Err("bad signature".into())
    );
    // A timestamp at the end of the range is refused, not an overflow (a panic, a 500).
    for extreme in [i64::MIN, i64::MAX] {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| match name.as_str() {
                "wechatpay-timestamp" => (name.clone(), extreme.to_string()),
                _ => (name.clone(), value.clone()),
            })
            .collect();
        let callback = Callback {
            headers: &headers,
            body: body.as_bytes(),
        };
        assert_eq!(
            wechat.verify(&callback, timestamp),
            Err("Wechatpay-Timestamp too far from our clock".into())
        );
    }

    let response_headers = &vectors["response"]["headers"];
    let header = |name: &str| {
        response_headers
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str().unwrap().to_owned())
    };
    let response = text(&vectors, "/response/body");
    assert_eq!(
        wechat.check_signed(header, response.as_bytes(), timestamp),
        Ok(())
    );
}
