//! Comments: `POST /comments`, `GET /users/self/comments`, public `GET /goods/{id}/comments`.

use axum::extract::State;
use shared::Problem;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};

use crate::AppState;
use crate::db::comments::NewComment;
use crate::domain::comments::{self, MAX_IMAGES};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::input::{Field, Flag, Input, Int, OptionalText, PageQuery, Text};
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::PrintOk;
use crate::http::views::{self, Page};
use crate::input;

/// Free-text comments are kept to this many characters; `target` (the goods variant) to less.
const MAX_COMMENT_CHARS: usize = 1000;
const MAX_TARGET_CHARS: usize = 100;

/// Ids of the caller's image uploads: at most [`MAX_IMAGES`], no repeats.
pub struct ImageIds;

impl Field for ImageIds {
    type Value = Vec<i64>;

    fn read(params: &Params, name: &'static str) -> Result<Vec<i64>, Problem> {
        let mut images = Vec::new();
        for raw in params.all(name) {
            let id = raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| Problem::invalid(name, "images 必须是图片 ID 的列表"))?;
            if images.contains(&id) {
                return Err(Problem::invalid(name, format!("图片 {id} 重复")));
            }
            images.push(id);
        }
        if images.len() > MAX_IMAGES {
            return Err(Problem::invalid(name, format!("最多 {MAX_IMAGES} 张图片")));
        }
        Ok(images)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let id = ObjectBuilder::new().schema_type(Type::Integer).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
        ));
        let property = ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(id)
            .max_items(Some(MAX_IMAGES))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property)
    }
}

type Grade = Int<1, 5>;

input! {
    pub struct CommentRequest {
        goods_id: Int<1, { i64::MAX }>,
        /// The goods variant that was printed.
        target: OptionalText<MAX_TARGET_CHARS>,
        /// Ids of the caller's image uploads, at most 9, no repeats.
        images: ImageIds,
        goods_comment: Text<MAX_COMMENT_CHARS>,
        service_comment: Text<MAX_COMMENT_CHARS>,
        describe_grade: Grade,
        seller_grade: Grade,
        logistics_grade: Grade,
        is_anonymous: Flag,
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<CommentRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let comment = NewComment {
        goods_id: request.goods_id,
        target: request.target,
        goods_comment: request.goods_comment,
        service_comment: request.service_comment,
        describe_grade: request.describe_grade,
        seller_grade: request.seller_grade,
        logistics_grade: request.logistics_grade,
        anonymous: request.is_anonymous,
        images: request.images,
    };
    let id = comments::create(&state, caller.user_id, comment).await?;
    Ok(PrintOk::new(views::Created { id }))
}

pub async fn of_self(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::Comment>>> {
    let page = comments::of_user(&state, caller.user_id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::Comment::of(row, offset)
    })))
}

pub async fn of_goods(
    State(state): State<AppState>,
    PathId(id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::Comment>>> {
    let page = comments::of_goods(&state, id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::Comment::of(row, offset)
    })))
}
