//! Comments: `POST /comments`, `GET /users/self/comments`, public `GET /goods/{id}/comments`.

use axum::extract::State;
use axum::http::StatusCode;
use shared::Problem;

use crate::AppState;
use crate::db::comments::NewComment;
use crate::domain::comments::{self, MAX_IMAGES};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::Reply;
use crate::http::views::{self, Page};

/// Free-text comments are kept to this many characters; `target` (the goods variant) to less.
const MAX_COMMENT_CHARS: usize = 1000;
const MAX_TARGET_CHARS: usize = 100;

fn new_comment(params: &Params) -> Result<NewComment, Problem> {
    let goods_id = params.required_integer("goods_id", 1, i64::MAX)?;
    let target = params.optional_text("target", MAX_TARGET_CHARS)?;
    let mut images = Vec::new();
    for raw in params.all("images") {
        let id = raw
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Problem::invalid("images", "images 必须是图片 ID 的列表"))?;
        if images.contains(&id) {
            return Err(Problem::invalid("images", format!("图片 {id} 重复")));
        }
        images.push(id);
    }
    if images.len() > MAX_IMAGES {
        return Err(Problem::invalid(
            "images",
            format!("最多 {MAX_IMAGES} 张图片"),
        ));
    }
    Ok(NewComment {
        goods_id,
        target,
        goods_comment: params.text("goods_comment", MAX_COMMENT_CHARS)?,
        service_comment: params.text("service_comment", MAX_COMMENT_CHARS)?,
        describe_grade: params.required_integer("describe_grade", 1, 5)?,
        seller_grade: params.required_integer("seller_grade", 1, 5)?,
        logistics_grade: params.required_integer("logistics_grade", 1, 5)?,
        anonymous: params.flag("is_anonymous")?,
        images,
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let comment = new_comment(&params)?;
    let (id, instructions) = comments::create(&state, caller.user_id, comment).await?;
    Ok(Reply::print(StatusCode::CREATED, views::Created { id }).invalidate(instructions))
}

pub async fn of_self(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let page = comments::of_user(&state, caller.user_id, params.page()?).await?;
    let offset = state.config.time_offset;
    Ok(Reply::print(
        StatusCode::OK,
        Page::of(page, |row| views::Comment::of(row, offset)),
    ))
}

pub async fn of_goods(
    State(state): State<AppState>,
    PathId(id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let page = comments::of_goods(&state, id, params.page()?).await?;
    let offset = state.config.time_offset;
    Ok(Reply::print(
        StatusCode::OK,
        Page::of(page, |row| views::Comment::of(row, offset)),
    ))
}
