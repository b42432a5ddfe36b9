//! Request parameters from the query string and the body (JSON, urlencoded or multipart form),
//! merged with the body winning (SPEC §1). Bodies are capped at 64 KiB.
//!
//! Exact about what it reads: text that is not UTF-8 (after percent-decoding) is refused in
//! every form, a JSON object or nested array where a value belongs is refused naming its field,
//! a body in any other content type is 415, and a name given twice means its last value in
//! every form (lists are read whole with [`Params::all`]).

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;
use shared::Problem;
use shared::policy::BODY_LIMIT;

use crate::error::AppError;

#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, Vec<String>>,
}

fn normalise(key: &str) -> String {
    key.strip_suffix("[]").unwrap_or(key).to_owned()
}

impl Params {
    fn replace_from(&mut self, other: Params) {
        for (key, values) in other.values {
            self.values.insert(key, values);
        }
    }

    pub(crate) fn push(&mut self, key: &str, value: String) {
        self.values.entry(normalise(key)).or_default().push(value);
    }

    /// `application/x-www-form-urlencoded` (also the query string). `where_` names the part
    /// that is refused when a name or value is not UTF-8.
    fn from_urlencoded(raw: &[u8], where_: &str) -> Result<Params, Problem> {
        let mut params = Params::default();
        for pair in raw.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
            let (key, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let decoded = |part: &[u8]| {
                String::from_utf8(percent_decode_plus(part)).map_err(|_| {
                    Problem::invalid(where_, format!("{where_} 含有不是 UTF-8 的字符"))
                })
            };
            params.push(&decoded(key)?, decoded(value)?);
        }
        Ok(params)
    }

    pub(crate) fn from_json(raw: &[u8]) -> Result<Params, Problem> {
        let value: Value = serde_json::from_slice(raw)
            .map_err(|error| Problem::invalid("body", format!("请求体不是合法的 JSON：{error}")))?;
        let Value::Object(object) = value else {
            return Err(Problem::invalid("body", "请求体必须是 JSON 对象"));
        };
        let mut params = Params::default();
        for (key, value) in object {
            let values: Vec<Value> = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            for value in values {
                match value {
                    Value::Null => {}
                    Value::String(text) => params.push(&key, text),
                    Value::Object(_) | Value::Array(_) => {
                        let field = normalise(&key);
                        return Err(Problem::invalid(
                            &field,
                            format!("{field} 的类型不对：应是字符串、数字或布尔值"),
                        ));
                    }
                    other => params.push(&key, other.to_string()),
                }
            }
            // An explicit empty array still says "this field was sent, with nothing in it".
            params.values.entry(normalise(&key)).or_default();
        }
        Ok(params)
    }

    /// The value of a parameter, if present; the last one when it was given more than once
    /// (as a JSON object's repeated key means its last value).
    /// Forgets parameters given empty, as a search form sends the filters left blank.
    pub fn drop_empty(&mut self) {
        self.values
            .retain(|_, values| values.last().is_some_and(|value| !value.is_empty()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|values| values.last())
            .map(String::as_str)
    }

    /// Whether a parameter was sent at all (an empty JSON array counts).
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Every value of a parameter (`images[]=1&images[]=2`, or a JSON array).
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// A parameter that must be present and not blank.
    pub fn required(&self, name: &str) -> Result<&str, Problem> {
        match self.get(name) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(Problem::invalid(name, format!("{name} 不能为空"))),
        }
    }

    /// A required free-text parameter: trimmed, not blank, at most `max_chars` characters.
    pub fn text(&self, name: &str, max_chars: usize) -> Result<String, Problem> {
        shared::validate::text(name, self.get(name).unwrap_or(""), max_chars)
    }

    /// An optional free-text parameter: absent or blank is `None`, otherwise as `text`.
    pub fn optional_text(&self, name: &str, max_chars: usize) -> Result<Option<String>, Problem> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(_) => self.text(name, max_chars).map(Some),
        }
    }

    /// A boolean flag: absent is false; `true`/`1`/`on`/`yes` and `false`/`0`/`off`/`no`/empty
    /// are understood; anything else is a validation error.
    pub fn flag(&self, name: &str) -> Result<bool, Problem> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(value) => match value.as_str() {
                "true" | "1" | "on" | "yes" => Ok(true),
                "false" | "0" | "off" | "no" | "" => Ok(false),
                _ => Err(Problem::invalid(
                    name,
                    format!("{name} 必须是 true 或 false"),
                )),
            },
        }
    }

    /// The value ([`Params::get`]) of every parameter, sorted by name (for signature checks).
    pub fn values_by_name(&self) -> std::collections::BTreeMap<String, String> {
        self.values
            .iter()
            .filter_map(|(key, values)| Some((key.clone(), values.last()?.clone())))
            .collect()
    }

    /// A required whole number within `min..=max`.
    pub fn required_integer(&self, name: &str, min: i64, max: i64) -> Result<i64, Problem> {
        self.integer(name, min, max)?
            .ok_or_else(|| Problem::invalid(name, format!("{name} 不能为空")))
    }

    /// The print document's `page` / `limit`, validated.
    pub fn page(&self) -> Result<shared::pagination::PageRequest, Problem> {
        shared::pagination::PageRequest::parse(self.get("page"), self.get("limit"))
    }

    /// An optional whole number within `min..=max`.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, Problem> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let message = || Problem::invalid(name, format!("{name} 必须是 {min} 到 {max} 之间的整数"));
        let value: i64 = raw.trim().parse().map_err(|_| message())?;
        if !(min..=max).contains(&value) {
            return Err(message());
        }
        Ok(Some(value))
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || Problem::PayloadTooLarge {
            limit_bytes: BODY_LIMIT,
        };
        let mut params = match request.uri().query() {
            Some(query) => Params::from_urlencoded(query.as_bytes(), "query")?,
            None => Params::default(),
        };
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok());
        if shared::policy::declares_over(declared, BODY_LIMIT) {
            return Err(too_large().into());
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();

        let body = if content_type == "multipart/form-data" {
            multipart_fields(request, state).await?
        } else {
            let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT as usize)
                .await
                .map_err(|_| too_large())?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Params::default()
            } else if content_type == "application/x-www-form-urlencoded" {
                Params::from_urlencoded(&bytes, "body")?
            } else if content_type == "application/json" || content_type.ends_with("+json") {
                Params::from_json(&bytes)?
            } else if content_type.is_empty() {
                // No declared type (some clients omit it): JSON if it looks like JSON.
                if bytes.trim_ascii_start().starts_with(b"{") {
                    Params::from_json(&bytes)?
                } else {
                    Params::from_urlencoded(&bytes, "body")?
                }
            } else {
                return Err(Problem::UnsupportedMediaType.into());
            }
        };
        params.replace_from(body);
        Ok(params)
    }
}

/// Percent-decodes a form component (`+` is a space); a `%` not followed by two hex digits is
/// kept as it is, as browsers and `form_urlencoded` do.
fn percent_decode_plus(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// The text fields of a multipart form (file parts are for the upload routes, not here).
async fn multipart_fields<S: Send + Sync>(request: Request, state: &S) -> Result<Params, AppError> {
    let invalid = |message: String| AppError::from(Problem::invalid("body", message));
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|rejection| invalid(format!("multipart 请求体无效：{rejection}")))?;
    let mut params = Params::default();
    let mut total: u64 = 0;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| invalid(format!("multipart 请求体无效：{error}")))?
    {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if field.file_name().is_some() {
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|error| invalid(format!("multipart 字段无效：{error}")))?;
        total += text.len() as u64;
        if total > BODY_LIMIT {
            return Err(Problem::PayloadTooLarge {
                limit_bytes: BODY_LIMIT,
            }
            .into());
        }
        params.push(&name, text);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_strings_and_arrays_many_values() {
        let params =
            Params::from_json(br#"{"a":"x","n":3,"b":true,"images":[1,2],"z":null}"#).unwrap();
        assert_eq!(params.get("a"), Some("x"));
        assert_eq!(params.get("n"), Some("3"));
        assert_eq!(params.flag("b"), Ok(true));
        assert_eq!(params.all("images"), ["1", "2"]);
        assert_eq!(params.get("z"), None);
    }

    #[test]
    fn bracketed_keys_collect_into_one_list() {
        let params = Params::from_urlencoded(b"images[]=1&images[]=2&x=%E4%B8%AD", "body").unwrap();
        assert_eq!(params.all("images"), ["1", "2"]);
        assert_eq!(params.get("x"), Some("中"));
    }

    #[test]
    fn non_object_json_and_garbage_are_validation_errors() {
        assert!(Params::from_json(b"[1,2]").is_err());
        assert!(Params::from_json(b"{nope").is_err());
    }

    #[test]
    fn the_body_wins_over_the_query_string() {
        let mut params = Params::from_urlencoded(b"a=query&b=kept", "query").unwrap();
        params.replace_from(Params::from_urlencoded(b"a=body", "body").unwrap());
        assert_eq!(params.get("a"), Some("body"));
        assert_eq!(params.get("b"), Some("kept"));
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_in_forms_as_in_json() {
        assert!(Params::from_urlencoded(b"name=%FF%FE", "body").is_err());
        assert!(Params::from_urlencoded(b"%C3=x", "query").is_err());
        assert!(Params::from_urlencoded(b"name=\xff", "body").is_err());
        let kept = Params::from_urlencoded(b"a=100%&b=%zz&c=a+b&d=%2B", "body").unwrap();
        assert_eq!(
            (kept.get("a"), kept.get("b"), kept.get("c"), kept.get("d")),
            (Some("100%"), Some("%zz"), Some("a b"), Some("+"))
        );
    }

    #[test]
    fn a_json_object_where_a_value_belongs_is_refused_naming_the_field() {
        let refused = Params::from_json(br#"{"username":{"a":1}}"#).unwrap_err();
        assert_eq!(
            refused,
            Problem::invalid("username", "username 的类型不对：应是字符串、数字或布尔值")
        );
        assert!(Params::from_json(br#"{"images":[[1]]}"#).is_err());
    }

    #[test]
    fn a_name_given_twice_means_its_last_value_in_every_form() {
        let form = Params::from_urlencoded(b"a=1&a=2", "body").unwrap();
        let json = Params::from_json(br#"{"a":"1","a":"2"}"#).unwrap();
        assert_eq!(form.get("a"), Some("2"));
        assert_eq!(json.get("a"), Some("2"));
        assert_eq!(form.all("a"), ["1", "2"]);
    }

    #[test]
    fn flags_and_integers_refuse_junk() {
        let params = Params::from_urlencoded(b"f=maybe&n=12x&m=5", "body").unwrap();
        assert!(params.flag("f").is_err());
        assert!(params.integer("n", 1, 10).is_err());
        assert!(params.integer("m", 1, 4).is_err());
        assert_eq!(params.integer("m", 1, 10), Ok(Some(5)));
        assert_eq!(params.integer("absent", 1, 10), Ok(None));
    }
}
