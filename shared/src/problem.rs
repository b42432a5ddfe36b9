//! Dialect-free failures and how each dialect renders them.
//!
//! The origin's domain and the edge both produce a [`Problem`]; only [`Problem::render`] knows
//! the two documents' codes, so the mapping lives in one place.

use serde_json::{Value, json};

use crate::Dialect;

/// Everything that can go wrong for a client, without any dialect's codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A parameter is missing or malformed.
    Invalid {
        field: String,
        message: String,
    },
    /// A phone number or e-mail address is malformed (print has its own code for it).
    BadAccountFormat {
        field: String,
        message: String,
    },
    /// A unique value (account name, phone, e-mail) belongs to another user already.
    Taken {
        field: String,
        message: String,
    },
    /// Password sign-in for an account that does not exist.
    UnknownAccount,
    /// Password sign-in with the wrong password.
    WrongPassword,
    /// A verification code or captcha answer is wrong (the field names which).
    WrongCode {
        field: String,
    },
    /// A captcha, verification code or token is past its life, unknown or already used.
    Expired {
        field: String,
        message: String,
    },
    /// A business rule refuses the request (the message says which).
    Refused {
        message: String,
    },
    /// No token, or a token that is malformed, expired, badly signed or revoked.
    Unauthenticated,
    /// Signed in, but without the permission the route needs.
    PermissionDenied,
    /// The request may not be made at all (e.g. the edge secret is missing).
    Forbidden {
        message: String,
    },
    NotFound,
    MethodNotAllowed,
    /// A body in a content type the API does not read (JSON, urlencoded and multipart forms).
    UnsupportedMediaType,
    PayloadTooLarge {
        limit_bytes: u64,
    },
    /// Too many requests; retry after the given number of seconds.
    RateLimited {
        retry_after: u64,
    },
    /// Password sign-in is locked for the account; retry after the given number of seconds.
    Locked {
        retry_after: u64,
    },
    /// The server is shedding load; retry after the given number of seconds.
    Busy {
        retry_after: u64,
    },
    /// An upload would take the user's stored bytes past their quota (SPEC §5).
    QuotaExceeded {
        quota_bytes: u64,
    },
    /// The user has uploaded their daily count of parts; retry after the given number of
    /// seconds (SPEC §5).
    UploadCountExceeded {
        per_day: u64,
        retry_after: u64,
    },
    /// The data directory's disk is below its free-space reserve, so uploads are refused
    /// (SPEC §5).
    InsufficientStorage,
    NotImplemented,
    /// The origin could not be reached or answered nonsense (edge), or a provider the origin
    /// calls (WeChat) did.
    BadGateway,
    /// The origin is down or timed out (edge only).
    Unavailable,
    /// A bug or an outage; the cause is logged, never shown.
    Internal,
}

/// A problem as one dialect shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub status: u16,
    pub body: Value,
    /// Seconds for a `Retry-After` header, when the client should retry later.
    pub retry_after: Option<u64>,
}

/// The store document's code table, in its order.
pub const STORE_CODES: [(u32, &str); 8] = [
    (10001, "参数有误"),
    (10003, "数据有误"),
    (20001, "操作成功"),
    (40001, "禁止访问"),
    (40003, "权限不足"),
    (40004, "查询为空"),
    (40005, "请求过期"),
    (50001, "操作失败"),
];

/// The print document's `error_code` table.
pub const PRINT_ERROR_CODES: [(u32, &str); 9] = [
    (10003, "权限不足"),
    (20000, "账号不存在"),
    (20001, "密码错误"),
    (20002, "账号已被注册"),
    (20003, "注册失败"),
    (20005, "修改密码失败"),
    (20006, "验证码错误"),
    (20007, "账号格式错误"),
    (999, "其他错误"),
];

/// Quotas are configured and shown in MB of 2^20 bytes.
const MEBIBYTE: u64 = 1024 * 1024;

/// A size as a person reads it: whole MB where it is, bytes otherwise.
fn size_text(bytes: u64) -> String {
    if bytes.is_multiple_of(MEBIBYTE) {
        format!("{} MB", bytes / MEBIBYTE)
    } else {
        format!("{bytes} 字节")
    }
}

pub const UNAUTHENTICATED_PRINT: &str = "未登录或登录已过期";
pub const TOO_MANY_REQUESTS: &str = "请求过于频繁";
const WRONG_CREDENTIALS_STORE: &str = "用户名或密码错误";

impl Problem {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> Problem {
        Problem::Refused {
            message: message.into(),
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Problem::RateLimited { retry_after }
            | Problem::Locked { retry_after }
            | Problem::Busy { retry_after }
            | Problem::UploadCountExceeded { retry_after, .. } => Some((*retry_after).max(1)),
            _ => None,
        }
    }

    /// The HTTP status. It is the same in both dialects, except where a dialect's document
    /// fixes it otherwise (store validation is 422, print validation is 400).
    pub fn status(&self, dialect: Dialect) -> u16 {
        let client_error = match dialect {
            Dialect::Store => 422,
            Dialect::Print => 400,
        };
        match self {
            Problem::Invalid { .. }
            | Problem::BadAccountFormat { .. }
            | Problem::Taken { .. }
            | Problem::UnknownAccount
            | Problem::WrongPassword
            | Problem::WrongCode { .. }
            | Problem::Expired { .. }
            | Problem::Refused { .. } => client_error,
            Problem::Unauthenticated => 401,
            Problem::PermissionDenied | Problem::Forbidden { .. } => 403,
            Problem::NotFound => 404,
            Problem::MethodNotAllowed => 405,
            Problem::PayloadTooLarge { .. } | Problem::QuotaExceeded { .. } => 413,
            Problem::UnsupportedMediaType => 415,
            Problem::RateLimited { .. }
            | Problem::Locked { .. }
            | Problem::UploadCountExceeded { .. } => 429,
            Problem::Internal => 500,
            Problem::NotImplemented => 501,
            Problem::BadGateway => 502,
            Problem::Busy { .. } | Problem::Unavailable => 503,
            Problem::InsufficientStorage => 507,
        }
    }

    /// Renders the problem in a dialect's envelope.
    pub fn render(&self, dialect: Dialect) -> Rendered {
        let status = self.status(dialect);
        let body = match dialect {
            Dialect::Store => self.store_body(),
            Dialect::Print => self.print_body(status),
        };
        Rendered {
            status,
            body,
            retry_after: self.retry_after(),
        }
    }

    /// The human-readable message, as both dialects show it.
    pub fn message(&self) -> String {
        match self {
            Problem::Invalid { message, .. }
            | Problem::BadAccountFormat { message, .. }
            | Problem::Taken { message, .. }
            | Problem::Expired { message, .. }
            | Problem::Refused { message }
            | Problem::Forbidden { message } => message.clone(),
            Problem::UnknownAccount => "账号不存在".into(),
            Problem::WrongPassword => "密码错误".into(),
            Problem::WrongCode { .. } => "验证码错误".into(),
            Problem::Unauthenticated => UNAUTHENTICATED_PRINT.into(),
            Problem::PermissionDenied => "权限不足".into(),
            Problem::NotFound => "请求资源未找到".into(),
            Problem::MethodNotAllowed => "请求方法不被允许".into(),
            Problem::UnsupportedMediaType => {
                "不支持的请求体类型：请使用 JSON、application/x-www-form-urlencoded 或 multipart/form-data"
                    .into()
            }
            Problem::PayloadTooLarge { limit_bytes } => {
                format!("请求体过大（上限 {limit_bytes} 字节）")
            }
            Problem::RateLimited { .. } => TOO_MANY_REQUESTS.into(),
            Problem::Locked { .. } => "密码错误次数过多，请稍后再试".into(),
            Problem::Busy { .. } => "服务繁忙，请稍后再试".into(),
            Problem::QuotaExceeded { quota_bytes } => format!(
                "超出存储配额：每位用户最多存储 {} 的文件，本次上传未保存",
                size_text(*quota_bytes)
            ),
            Problem::UploadCountExceeded { per_day, .. } => {
                format!("24 小时内最多上传 {per_day} 个文件，请稍后再试")
            }
            Problem::InsufficientStorage => "服务器存储空间不足，暂时无法上传，请稍后再试".into(),
            Problem::NotImplemented => "暂未实现".into(),
            Problem::BadGateway => "上游服务异常".into(),
            Problem::Unavailable => "服务暂不可用".into(),
            Problem::Internal => "服务器故障".into(),
        }
    }

    /// The field a validation-like problem is about, for the `errors` object.
    /// The parameter a problem is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Problem::Invalid { field, .. }
            | Problem::BadAccountFormat { field, .. }
            | Problem::Taken { field, .. }
            | Problem::WrongCode { field } => Some(field),
            _ => None,
        }
    }

    fn errors(&self) -> Option<Value> {
        self.field().map(|field| json!({ field: [self.message()] }))
    }

    fn store_body(&self) -> Value {
        let (code, message) = match self {
            Problem::Unauthenticated => return json!({ "message": "Unauthenticated." }),
            Problem::UnknownAccount | Problem::WrongPassword => {
                (10001, WRONG_CREDENTIALS_STORE.to_owned())
            }
            Problem::Invalid { .. }
            | Problem::BadAccountFormat { .. }
            | Problem::WrongCode { .. }
            | Problem::PayloadTooLarge { .. }
            | Problem::UnsupportedMediaType => (10001, self.message()),
            Problem::Taken { .. } | Problem::Refused { .. } => (10003, self.message()),
            Problem::Forbidden { .. }
            | Problem::MethodNotAllowed
            | Problem::RateLimited { .. }
            | Problem::Locked { .. }
            | Problem::QuotaExceeded { .. }
            | Problem::UploadCountExceeded { .. } => (40001, self.message()),
            Problem::PermissionDenied => (40003, self.message()),
            Problem::NotFound => (40004, self.message()),
            Problem::Expired { .. } => (40005, self.message()),
            Problem::Busy { .. }
            | Problem::NotImplemented
            | Problem::BadGateway
            | Problem::Unavailable
            | Problem::InsufficientStorage
            | Problem::Internal => (50001, self.message()),
        };
        let mut body = json!({ "code": code, "message": message });
        if let Some(errors) = self.errors() {
            body["errors"] = errors;
        }
        body
    }

    fn print_body(&self, status: u16) -> Value {
        let error_code = match self {
            Problem::PermissionDenied => 10003,
            Problem::UnknownAccount => 20000,
            Problem::WrongPassword => 20001,
            Problem::Taken { .. } => 20002,
            Problem::WrongCode { .. } | Problem::Expired { .. } => 20006,
            Problem::BadAccountFormat { .. } => 20007,
            _ => 999,
        };
        let mut body = json!({
            "status": "error",
            "code": status,
            "error_code": error_code,
            "message": self.message(),
        });
        if let Some(errors) = self.errors() {
            body["errors"] = errors;
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_unauthenticated_is_exactly_the_documented_body() {
        let rendered = Problem::Unauthenticated.render(Dialect::Store);
        assert_eq!(rendered.status, 401);
        assert_eq!(rendered.body, json!({ "message": "Unauthenticated." }));
    }

    #[test]
    fn store_validation_names_the_field_with_code_10001_and_status_422() {
        let rendered = Problem::invalid("username", "用户名格式不正确").render(Dialect::Store);
        assert_eq!(rendered.status, 422);
        assert_eq!(
            rendered.body,
            json!({ "code": 10001, "message": "用户名格式不正确", "errors": { "username": ["用户名格式不正确"] } })
        );
    }

    #[test]
    fn store_wrong_credentials_look_the_same_whether_or_not_the_account_exists() {
        let unknown = Problem::UnknownAccount.render(Dialect::Store);
        let wrong = Problem::WrongPassword.render(Dialect::Store);
        assert_eq!(unknown, wrong);
        assert_eq!(unknown.body["message"], "用户名或密码错误");
        assert_eq!(unknown.body["code"], 10001);
    }

    #[test]
    fn print_business_errors_are_400_with_the_documented_error_code() {
        let cases = [
            (Problem::UnknownAccount, 20000),
            (Problem::WrongPassword, 20001),
            (
                Problem::Taken {
                    field: "phone".into(),
                    message: "账号已被注册".into(),
                },
                20002,
            ),
            (
                Problem::WrongCode {
                    field: "verification_code".into(),
                },
                20006,
            ),
            (
                Problem::BadAccountFormat {
                    field: "phone".into(),
                    message: "x".into(),
                },
                20007,
            ),
            (Problem::refused("nope"), 999),
        ];
        for (problem, error_code) in cases {
            let rendered = problem.render(Dialect::Print);
            assert_eq!(rendered.status, 400, "{problem:?}");
            assert_eq!(rendered.body["status"], "error");
            assert_eq!(rendered.body["code"], 400);
            assert_eq!(rendered.body["error_code"], error_code, "{problem:?}");
        }
    }

    #[test]
    fn http_status_equals_the_envelope_code_in_print() {
        let problems = [
            Problem::Unauthenticated,
            Problem::PermissionDenied,
            Problem::NotFound,
            Problem::MethodNotAllowed,
            Problem::PayloadTooLarge { limit_bytes: 1 },
            Problem::UnsupportedMediaType,
            Problem::RateLimited { retry_after: 3 },
            Problem::QuotaExceeded { quota_bytes: 1 },
            Problem::UploadCountExceeded {
                per_day: 1,
                retry_after: 1,
            },
            Problem::InsufficientStorage,
            Problem::Internal,
            Problem::BadGateway,
            Problem::Unavailable,
        ];
        for problem in problems {
            let rendered = problem.render(Dialect::Print);
            assert_eq!(
                u64::from(rendered.status),
                rendered.body["code"].as_u64().unwrap()
            );
        }
    }

    #[test]
    fn permission_denied_is_403_with_10003_in_print_and_40003_in_store() {
        assert_eq!(
            Problem::PermissionDenied.render(Dialect::Print).body["error_code"],
            10003
        );
        assert_eq!(
            Problem::PermissionDenied.render(Dialect::Store).body["code"],
            40003
        );
    }

    #[test]
    fn rate_limits_carry_a_retry_after_of_at_least_one_second() {
        let rendered = Problem::RateLimited { retry_after: 0 }.render(Dialect::Store);
        assert_eq!(rendered.status, 429);
        assert_eq!(rendered.body["code"], 40001);
        assert_eq!(rendered.retry_after, Some(1));
    }

    #[test]
    fn upload_limits_are_413_429_and_507_with_a_message_that_says_which() {
        let quota = Problem::QuotaExceeded {
            quota_bytes: 1024 * MEBIBYTE,
        };
        let count = Problem::UploadCountExceeded {
            per_day: 500,
            retry_after: 60,
        };
        let disk = Problem::InsufficientStorage;
        for (problem, status, store_code, words) in [
            (&quota, 413, 40001, "1024 MB"),
            (&count, 429, 40001, "500 个"),
            (&disk, 507, 50001, "存储空间不足"),
        ] {
            let print = problem.render(Dialect::Print);
            assert_eq!(print.status, status, "{problem:?}");
            assert_eq!(print.body["code"], status, "{problem:?}");
            assert_eq!(print.body["error_code"], 999, "{problem:?}");
            assert!(
                print.body["message"].as_str().unwrap().contains(words),
                "{}",
                print.body
            );
            let store = problem.render(Dialect::Store);
            assert_eq!(store.status, status, "{problem:?}");
            assert_eq!(store.body["code"], store_code, "{problem:?}");
        }
        assert_eq!(count.render(Dialect::Print).retry_after, Some(60));
        assert_eq!(quota.render(Dialect::Print).retry_after, None);
    }
}
