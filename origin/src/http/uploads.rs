//! `POST /images`, `POST /files` (multipart, several parts, streamed to disk, within the
//! uploader's limits) and `GET /storage/{key}`.

use anyhow::Context;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use shared::Problem;
use shared::policy::{FILE_PART_LIMIT, IMAGE_PART_LIMIT, RouteId};
use tokio_util::io::ReaderStream;

use crate::AppState;
use crate::db::uploads::Kind;
use crate::domain::uploads::{self, Received};
use crate::error::{AppError, AppResult};
use crate::http::auth::Caller;
use crate::http::endpoint::{DescribeArg, DescribeReply, InputDoc, SuccessDoc};
use crate::http::openapi::Components;
use crate::http::path::PathText;
use crate::http::reply::PrintOk;
use crate::http::views;
use crate::storage::{Sniffed, WriteError};

/// At most this many file parts in one request.
pub const MAX_PARTS: usize = 20;
/// File names are kept to this many characters.
const MAX_NAME_CHARS: usize = 255;

/// The request whose multipart parts are the files (read as they stream in).
pub struct Parts(Request);

impl<S: Send + Sync> FromRequest<S> for Parts {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Parts(request))
    }
}

impl DescribeArg for Parts {
    fn describe(input: &mut InputDoc, _components: &mut Components) {
        *input = InputDoc::Files;
    }
}

/// A stored file's bytes (or a 304).
pub struct Stored(Response);

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        self.0
    }
}

impl DescribeReply for Stored {
    fn success(_components: &mut Components) -> SuccessDoc {
        SuccessDoc::Bytes
    }
}

pub async fn images(
    State(state): State<AppState>,
    caller: Caller,
    Parts(request): Parts,
) -> AppResult<PrintOk<Vec<views::Image>, 201>> {
    uploads::admit(&state, caller.user_id).await?;
    let parts = receive(
        &state,
        request,
        RouteId::Images,
        IMAGE_PART_LIMIT,
        accept_image,
    )
    .await?;
    let rows = uploads::save(&state, caller.user_id, Kind::Image, parts).await?;
    Ok(PrintOk::new(rows.iter().map(views::Image::of).collect()))
}

pub async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Parts(request): Parts,
) -> AppResult<PrintOk<Vec<views::File>, 201>> {
    uploads::admit(&state, caller.user_id).await?;
    let parts = receive(&state, request, RouteId::Files, FILE_PART_LIMIT, |_, _| {
        Ok(())
    })
    .await?;
    let rows = uploads::save(&state, caller.user_id, Kind::File, parts).await?;
    Ok(PrintOk::new(rows.iter().map(views::File::of).collect()))
}

/// What `POST /images` accepts: a part sniffed as PNG, JPEG, GIF or WebP (the `index`th).
pub(crate) fn accept_image(index: usize, sniffed: &Sniffed) -> Result<(), Problem> {
    if sniffed.is_accepted_image() {
        Ok(())
    } else {
        Err(Problem::invalid(
            "image",
            format!("第 {index} 个文件不是 PNG、JPEG、GIF 或 WebP 图片"),
        ))
    }
}

fn multipart_problem(error: &MultipartError, route: RouteId) -> Problem {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::PayloadTooLarge {
            limit_bytes: shared::policy::route_of(route).body_limit,
        }
    } else {
        Problem::invalid(
            "body",
            format!("multipart 请求体无效：{}", error.body_text()),
        )
    }
}

/// Streams every part that carries a file (whatever its field name) to disk. Text parts are
/// ignored. A part over `part_limit` is refused as soon as it passes the limit; `accept` judges
/// each finished part by its sniffed type. On any refusal the parts received so far are
/// discarded (their temporary files are removed when dropped).
async fn receive(
    state: &AppState,
    request: Request,
    route: RouteId,
    part_limit: u64,
    accept: impl Fn(usize, &Sniffed) -> Result<(), Problem>,
) -> AppResult<Vec<Received>> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|_| Problem::invalid("body", "请以 multipart/form-data 上传文件"))?;
    let mut parts = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| multipart_problem(&error, route))?
    {
        let Some(name) = field.file_name().map(clean_name) else {
            continue;
        };
        let index = parts.len() + 1;
        if index > MAX_PARTS {
            return Err(
                Problem::invalid("file", format!("一次最多上传 {MAX_PARTS} 个文件")).into(),
            );
        }
        let blob = receive_part(state, field, route, part_limit).await?;
        if blob.size == 0 {
            return Err(Problem::invalid("file", format!("第 {index} 个文件是空的")).into());
        }
        accept(index, &blob.sniffed)?;
        parts.push(Received { name, blob });
    }
    if parts.is_empty() {
        return Err(Problem::invalid("file", "请至少上传一个文件").into());
    }
    Ok(parts)
}

/// Streams one file part to a temporary file, refused (413) as soon as it passes
/// `part_limit`; the caller places it with [`uploads::save`] or drops it (nothing stored).
pub(crate) async fn receive_part(
    state: &AppState,
    mut field: Field<'_>,
    route: RouteId,
    part_limit: u64,
) -> AppResult<crate::storage::SealedBlob> {
    let mut pending = state
        .blobs
        .begin(part_limit)
        .await
        .context("opening an upload file")?;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|error| multipart_problem(&error, route))?
    {
        pending.write(&chunk).await.map_err(|error| match error {
            WriteError::TooLarge => AppError::from(Problem::PayloadTooLarge {
                limit_bytes: part_limit,
            }),
            WriteError::Io(error) => AppError::Internal(anyhow::Error::new(error)),
        })?;
    }
    Ok(pending.seal().await.context("writing an upload")?)
}

/// The last path component of a client's file name, without control characters, trimmed and
/// shortened; "file" if nothing is left.
pub(crate) fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Serves a stored blob: its sniffed type, a strong `ETag` (the digest), immutable caching.
/// Types a browser could run script from are served as downloads.
pub async fn storage(
    State(state): State<AppState>,
    PathText(key): PathText,
    headers: HeaderMap,
) -> AppResult<Stored> {
    let (blob, path) = uploads::find(&state, &key).await?;
    let etag = format!("\"{}\"", blob.sha256);
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let file = tokio::fs::File::open(&path)
            .await
            .with_context(|| format!("opening stored blob {}", blob.sha256))?;
        let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
        let inline = Sniffed::is_inline_safe(&blob.mime);
        let content_type = if inline {
            blob.mime.as_str()
        } else {
            "application/octet-stream"
        };
        let out = response.headers_mut();
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).context("stored mime type")?,
        );
        out.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(if inline { "inline" } else { "attachment" }),
        );
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, HeaderValue::from_str(&etag).context("etag")?);
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(Stored(response))
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\me\\photo.png"), "photo.png");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\n.txt"), "ab.txt");
        assert_eq!(clean_name("  "), "file");
        assert_eq!(clean_name("dir/.."), "file");
        assert_eq!(clean_name(&"x".repeat(300)).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn etags_match_exactly_weakly_or_by_star() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(if_none_match(&headers, "\"b\""));
        assert!(if_none_match(&headers, "\"a\""));
        assert!(!if_none_match(&headers, "\"c\""));
    }
}
