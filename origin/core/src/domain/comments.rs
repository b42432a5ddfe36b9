//! Comments on goods. Any signed-in user may comment on goods that exist; the images must be
//! the author's own image uploads. The goods and the images are checked in the same
//! transaction that writes the comment.

use shared::Problem;
use shared::pagination::{PageRequest, Paged};

use crate::AppState;
use crate::clock;
use crate::db::comments::{self, CommentRow, NewComment, Scope};
use crate::db::goods;
use crate::db::uploads::{self, Kind};
use crate::error::Result;

/// At most this many images per comment.
pub const MAX_IMAGES: usize = 9;

/// Writes a comment; returns its id.
pub async fn create(state: &AppState, user_id: i64, comment: NewComment) -> Result<i64> {
    let id = state
        .db
        .write(move |tx| -> Result<_> {
            if !goods::exists(tx, comment.goods_id)? {
                return Err(Problem::invalid("goods_id", "商品不存在").into());
            }
            let owned = uploads::owned(tx, user_id, Kind::Image, &comment.images)?;
            if let Some(stranger) = comment
                .images
                .iter()
                .find(|id| !owned.iter().any(|row| row.id == **id))
            {
                return Err(Problem::invalid(
                    "images",
                    format!("图片 {stranger} 不存在或不是你上传的图片"),
                )
                .into());
            }
            Ok(comments::insert(tx, user_id, &comment, clock::now())?)
        })
        .await?;
    Ok(id)
}

pub async fn of_user(
    state: &AppState,
    user_id: i64,
    request: PageRequest,
) -> Result<Paged<CommentRow>> {
    page(state, Scope::User(user_id), request).await
}

/// A goods item's comments; unknown goods are not found.
pub async fn of_goods(
    state: &AppState,
    goods_id: i64,
    request: PageRequest,
) -> Result<Paged<CommentRow>> {
    let exists = state
        .db
        .read(move |conn| goods::exists(conn, goods_id))
        .await?;
    if !exists {
        return Err(Problem::NotFound.into());
    }
    page(state, Scope::Goods(goods_id), request).await
}

async fn page(state: &AppState, scope: Scope, request: PageRequest) -> Result<Paged<CommentRow>> {
    let (rows, total) = state
        .db
        .read(move |conn| comments::page(conn, scope, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}
