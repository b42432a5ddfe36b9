//! 优惠券, 站内信, 邀请码 and 角色: granting, sending and creating, by the admin API's own
//! inputs and domain actions.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use super::session::Once;
use super::{ConsoleResult, Form, Layout, Staff, render, render_with};
use crate::AppState;
use crate::domain::admin::{self, NewInvitation, NewMessage};
use crate::http::admin::wallet::CouponGrantRequest;
use crate::http::admin::{InvitationRequest, MessageRequest, RoleRequest, needs};
use crate::http::input::{FromParams, Int, OptionalText};
use crate::http::params::Params;
use crate::http::views::InvitationCode;
use crate::input;

// ---- 优惠券 ------------------------------------------------------------------------------

/// The coupon form's values, shown again on the preview and carried by its confirmation.
#[derive(Default)]
struct CouponFields {
    q: String,
    name: String,
    kind: String,
    quota: String,
    satisfy: String,
    finished_at: String,
}

impl CouponFields {
    fn of(params: &Params) -> CouponFields {
        let text = |name: &str| params.get(name).unwrap_or_default().to_owned();
        CouponFields {
            q: text("q"),
            name: text("name"),
            kind: text("type"),
            quota: text("quota"),
            satisfy: text("satisfy"),
            finished_at: text("finished_at"),
        }
    }
}

#[derive(Template)]
#[template(path = "console/coupons.html")]
struct CouponsPage {
    layout: Layout,
    fields: CouponFields,
    /// After the preview: how many users the grant reaches.
    recipients: Option<usize>,
    error: Option<String>,
    granted: Option<usize>,
}

/// `GET /console/coupons`: grant a coupon to one user or to every user a search finds.
pub async fn coupons_form(staff: Staff<needs::Coupons>) -> ConsoleResult {
    Ok(render(&CouponsPage {
        layout: Layout::new(&staff.operator, "coupons"),
        fields: CouponFields {
            kind: "抵扣".into(),
            ..CouponFields::default()
        },
        recipients: None,
        error: None,
        granted: None,
    }))
}

/// The grant and its audience, read by the admin API's coupon input.
pub struct CouponForm {
    request: CouponGrantRequest,
    q: Option<String>,
    fields: CouponFields,
}

input! {
    pub struct AudienceQuery {
        /// Account, phone, e-mail or nickname; empty: every active user.
        q: OptionalText<100>,
    }
}

impl FromParams for CouponForm {
    fn from_params(params: &Params) -> Result<Self, shared::Problem> {
        Ok(CouponForm {
            request: CouponGrantRequest::from_params(params)?,
            q: AudienceQuery::from_params(params)?
                .q
                .filter(|q| !q.trim().is_empty()),
            fields: CouponFields::of(params),
        })
    }
}

/// Choosing the audience by a search (`q`) is the user search's power (用户管理): its count
/// would tell a 优惠券管理 admin whether a phone or e-mail is registered, one query at a time.
/// Without it, a grant goes to every active user.
fn audience_allowed(staff: &Staff<needs::Coupons>, form: &CouponForm) -> ConsoleResult<()> {
    match form.q.is_some() && !staff.operator.may(shared::Permission::Users) {
        true => Err(super::ConsoleError::Forbidden(
            shared::Permission::Users.name(),
        )),
        false => Ok(()),
    }
}

/// `POST /console/coupons`: checks the coupon by the API's rules and counts its audience.
/// Nothing is granted yet.
pub async fn coupons_preview(
    State(state): State<AppState>,
    staff: Staff<needs::Coupons>,
    Form(form): Form<CouponForm>,
) -> ConsoleResult {
    audience_allowed(&staff, &form)?;
    let layout = Layout::new(&staff.operator, "coupons");
    let (recipients, error) = match form.request.grant(state.config.time_offset) {
        Err(problem) => (None, Some(problem.message())),
        Ok(_) => match admin::coupon_recipients(&state, form.q.clone()).await? {
            0 => (None, Some("没有符合条件的用户。".to_owned())),
            count if count > admin::MAX_COUPON_RECIPIENTS => (
                None,
                Some(format!(
                    "一次最多向 {} 位用户发放（符合条件的有 {count} 位），请缩小范围分批发放。",
                    admin::MAX_COUPON_RECIPIENTS
                )),
            ),
            count => (Some(count), None),
        },
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render_with(
        status,
        &CouponsPage {
            layout,
            fields: form.fields,
            recipients,
            error,
            granted: None,
        },
    ))
}

input! {
    pub struct ExpectedCount {
        expected: Int<1, { i64::MAX }>,
    }
}

/// A confirmed grant: the form again, and the audience the operator saw.
pub struct ConfirmedCoupons {
    form: CouponForm,
    expected: usize,
}

impl FromParams for ConfirmedCoupons {
    fn from_params(params: &Params) -> Result<Self, shared::Problem> {
        Ok(ConfirmedCoupons {
            form: CouponForm::from_params(params)?,
            expected: ExpectedCount::from_params(params)?.expected as usize,
        })
    }
}

/// `POST /console/coupons/confirm`: grants, in one transaction with one audit entry, to
/// exactly the audience confirmed (refused if it changed meanwhile).
pub async fn coupons_confirm(
    State(state): State<AppState>,
    staff: Staff<needs::Coupons>,
    Form(Once {
        value: confirmed,
        key,
    }): Form<Once<ConfirmedCoupons>>,
) -> ConsoleResult {
    let form = confirmed.form;
    audience_allowed(&staff, &form)?;
    let grant = form.request.grant(state.config.time_offset)?;
    let actor = staff.actor.clone().submitting(key);
    let granted = admin::grant_coupons(&state, actor, form.q, confirmed.expected, grant).await?;
    Ok(render(&CouponsPage {
        layout: Layout::new(&staff.operator, "coupons"),
        fields: CouponFields {
            kind: "抵扣".into(),
            ..CouponFields::default()
        },
        recipients: None,
        error: None,
        granted: Some(granted),
    }))
}

// ---- 站内信 ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/messages.html")]
struct MessagesPage {
    layout: Layout,
    sent: Option<usize>,
}

/// `GET /console/messages`: send an in-site message to one user or everyone (客服工具管理).
pub async fn messages_form(staff: Staff<needs::SupportTools>) -> ConsoleResult {
    Ok(render(&MessagesPage {
        layout: Layout::new(&staff.operator, "messages"),
        sent: None,
    }))
}

/// `POST /console/messages`: the admin API's message input and action.
pub async fn messages_send(
    State(state): State<AppState>,
    staff: Staff<needs::SupportTools>,
    Form(Once {
        value: request,
        key,
    }): Form<Once<MessageRequest>>,
) -> ConsoleResult {
    let message = NewMessage::new(request.sender.as_deref(), &request.title, &request.body)?;
    let actor = staff.actor.clone().submitting(key);
    let sent = admin::send_message(&state, actor, request.recipients, message).await?;
    Ok(render(&MessagesPage {
        layout: Layout::new(&staff.operator, "messages"),
        sent: Some(sent),
    }))
}

// ---- 邀请码 ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/invitations.html")]
struct InvitationsPage {
    layout: Layout,
    created: Option<InvitationCode>,
}

/// `GET /console/invitations`: create invitation codes (用户管理).
pub async fn invitations_form(staff: Staff<needs::Users>) -> ConsoleResult {
    Ok(render(&InvitationsPage {
        layout: Layout::new(&staff.operator, "invitations"),
        created: None,
    }))
}

/// `POST /console/invitations`: the code is shown once, on this answer (never in an address).
pub async fn invitations_create(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Form(Once {
        value: request,
        key,
    }): Form<Once<InvitationRequest>>,
) -> ConsoleResult {
    let invitation = NewInvitation::new(request.uses, request.expires_in_days)?;
    let actor = staff.actor.clone().submitting(key);
    let invitation = admin::create_invitation(&state, actor, invitation).await?;
    Ok(render(&InvitationsPage {
        layout: Layout::new(&staff.operator, "invitations"),
        created: Some(InvitationCode::of(&invitation, state.config.time_offset)),
    }))
}

// ---- 角色 --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage {
    layout: Layout,
    roles: Vec<crate::db::roles::RoleRow>,
    permissions: Vec<&'static str>,
}

/// `GET /console/roles`: roles and their permissions; create or change one (用户管理, within
/// SPEC §7's boundaries).
pub async fn roles(State(state): State<AppState>, staff: Staff<needs::Users>) -> ConsoleResult {
    let roles = admin::roles(&state).await?;
    Ok(render(&RolesPage {
        layout: Layout::new(&staff.operator, "roles"),
        roles,
        permissions: shared::PERMISSIONS.to_vec(),
    }))
}

/// `POST /console/roles`: creates or replaces a role's permissions.
pub async fn roles_save(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Form(request): Form<RoleRequest>,
) -> ConsoleResult {
    let permissions = request
        .permissions
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    admin::save_role(&state, staff.actor, request.name, permissions).await?;
    Ok(axum::response::IntoResponse::into_response(
        axum::response::Redirect::to("/console/roles"),
    ))
}
