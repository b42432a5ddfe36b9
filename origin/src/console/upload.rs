//! A console form that may carry one image file (`multipart/form-data`): the gift form.
//!
//! [`Form`](super::Form) reads multipart text fields only (its `Params` skip file parts and
//! cap the body at 64 KiB), so a form with a file passes [`ImageForm`] instead, which keeps
//! `Form`'s guards and adds the upload's: the `Origin` is checked before the body is read, and
//! the form token (`_csrf`) must come — and match — before any file part, so no byte of a
//! file is written, even to a temporary file, for a request that is not the console's own.
//! The file is then received as `POST /api/images` receives one (streamed, capped at
//! [`IMAGE_PART_LIMIT`], sniffed) after the operator's upload limits admit it
//! ([`uploads::admit`]); it is stored only when the handler calls [`uploads::save`].

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use shared::Problem;
use shared::policy::{BODY_LIMIT, IMAGE_PART_LIMIT, RouteId};

use super::session::{FormToken, Uploader, same_origin};
use super::{ConsoleError, ConsoleResult, Form};
use crate::AppState;
use crate::domain::uploads::{self, Received};
use crate::http::input::FromParams;
use crate::http::params::Params;
use crate::http::uploads::{accept_image, clean_name, receive_part};

/// The name of the form's file field.
pub const IMAGE_FIELD: &str = "image_file";

/// A state-changing form read by `T`'s rules, and the image file chosen in it, if any
/// (received to a temporary file, not stored yet). Must follow a [`Staff`](super::Staff)
/// extractor, which finds the token and the uploader.
pub struct ImageForm<T> {
    pub fields: T,
    pub image: Option<Received>,
}

fn invalid(message: impl Into<String>) -> ConsoleError {
    ConsoleError::from(Problem::invalid("body", message))
}

impl<T: FromParams> FromRequest<AppState> for ImageForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> ConsoleResult<Self> {
        let multipart = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            });
        if !multipart {
            // A form without a file input (or a client that sends no file): `Form`'s rules.
            let Form(fields) = Form::<T>::from_request(request, state).await?;
            return Ok(ImageForm {
                fields,
                image: None,
            });
        }
        if !same_origin(request.headers(), &state.config.admin_hosts) {
            return Err(ConsoleError::CrossSite);
        }
        let expected = request
            .extensions()
            .get::<FormToken>()
            .cloned()
            .ok_or(ConsoleError::CrossSite)?;
        let uploader = request
            .extensions()
            .get::<Uploader>()
            .copied()
            .ok_or(ConsoleError::CrossSite)?;
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(|_| invalid("请以 multipart/form-data 提交表单"))?;
        let mut params = Params::default();
        let mut text_bytes: u64 = 0;
        let mut token_checked = false;
        let mut image = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|error| multipart_error(&error))?
        {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let Some(file_name) = field.file_name().map(str::to_owned) else {
                let text = field
                    .text()
                    .await
                    .map_err(|error| multipart_error(&error))?;
                text_bytes += text.len() as u64;
                if text_bytes > BODY_LIMIT {
                    return Err(Problem::PayloadTooLarge {
                        limit_bytes: BODY_LIMIT,
                    }
                    .into());
                }
                if name == "_csrf" {
                    if token_checked
                        || !shared::constant_time_eq(text.as_bytes(), expected.0.as_bytes())
                    {
                        return Err(ConsoleError::CrossSite);
                    }
                    token_checked = true;
                } else {
                    params.push(&name, text);
                }
                continue;
            };
            // A file part: only after the form token, so nothing is written for a forgery.
            if !token_checked {
                return Err(ConsoleError::CrossSite);
            }
            if file_name.is_empty() {
                // The browser's "no file chosen": an empty part without a name.
                continue;
            }
            if name != IMAGE_FIELD || image.is_some() {
                return Err(ConsoleError::from(Problem::invalid(
                    IMAGE_FIELD,
                    "只能上传一张图片",
                )));
            }
            uploads::admit(state, uploader.0).await?;
            let blob = receive_part(state, field, RouteId::Images, IMAGE_PART_LIMIT).await?;
            if blob.size == 0 {
                return Err(ConsoleError::from(Problem::invalid(
                    IMAGE_FIELD,
                    "图片文件是空的",
                )));
            }
            accept_image(1, &blob.sniffed)?;
            image = Some(Received {
                name: clean_name(&file_name),
                blob,
            });
        }
        if !token_checked {
            return Err(ConsoleError::CrossSite);
        }
        params.drop_empty();
        Ok(ImageForm {
            fields: T::from_params(&params)?,
            image,
        })
    }
}

fn multipart_error(error: &axum::extract::multipart::MultipartError) -> ConsoleError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ConsoleError::from(Problem::PayloadTooLarge {
            limit_bytes: IMAGE_PART_LIMIT,
        })
    } else {
        invalid(format!("multipart 请求体无效：{}", error.body_text()))
    }
}
