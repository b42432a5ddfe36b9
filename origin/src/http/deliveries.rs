//! `GET /admin/deliveries`: the SMS and e-mail delivery log for 客服工具管理 (support) admins —
//! whether a user's code went out, through which provider, after how many tries, and what the
//! provider said. It never shows a code; each read is audited.

use axum::extract::State;
use shared::Problem;
use shared::validate::EMAIL_MAX_CHARS;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use crate::AppState;
use crate::db::deliveries::Filter;
use crate::domain::admin;
use crate::error::AppResult;
use crate::http::admin::{Admin, needs};
use crate::http::input::{Field, Input, OptionalText, Paging};
use crate::http::params::Params;
use crate::http::reply::PrintOk;
use crate::http::views::{self, Page};
use crate::input;

/// Optional parameters that take one word of a closed set.
macro_rules! one_of {
    ($(#[$doc:meta])* $name:ident, [$($word:literal),+], $message:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl Field for $name {
            type Value = Option<String>;

            fn read(params: &Params, name: &'static str) -> Result<Option<String>, Problem> {
                match params.get(name) {
                    None => Ok(None),
                    Some(word) if [$($word),+].contains(&word) => Ok(Some(word.to_owned())),
                    Some(_) => Err(Problem::invalid(name, $message)),
                }
            }

            fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
                let words = [$($word),+].join("|");
                let property = ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .pattern(Some(format!("^({words})$")))
                    .description((!description.is_empty()).then_some(description));
                object.property(name, property)
            }
        }
    };
}

one_of!(
    /// `sms` or `mail`; absent is either.
    DeliveryChannel,
    ["sms", "mail"],
    "channel 只能是 sms 或 mail"
);
one_of!(
    /// A delivery status; absent is any.
    DeliveryStatus,
    ["pending", "sent", "failed", "expired", "skipped"],
    "status 只能是 pending、sent、failed、expired 或 skipped"
);

input! {
    pub struct DeliveriesQuery {
        /// A phone (any spelling) or e-mail.
        to: OptionalText<EMAIL_MAX_CHARS>,
        channel: DeliveryChannel,
        status: DeliveryStatus,
        page: Paging,
    }
}

impl DeliveriesQuery {
    /// The rows asked for. A phone in any spelling finds the messages sent to its canonical
    /// form (SPEC §4).
    pub fn filter(&self) -> Filter {
        let recipient = self
            .to
            .clone()
            .map(|to| shared::validate::canonical_phone(&to).unwrap_or(to));
        Filter {
            recipient,
            channel: self.channel.clone(),
            status: self.status.clone(),
        }
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::SupportTools>,
    Input(query): Input<DeliveriesQuery>,
) -> AppResult<PrintOk<Page<views::DeliveryEntry>>> {
    let page = admin::read_deliveries(&state, actor, query.filter(), query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::DeliveryEntry::of(row, offset)
    })))
}
