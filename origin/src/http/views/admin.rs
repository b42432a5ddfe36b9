//! Views of the back-office document.

use super::*;

// ---- Admin -------------------------------------------------------------------------------

/// A code or message the development notifier wrote instead of sending it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    /// `sms`, `mail` or `captcha`.
    pub channel: String,
    pub to: String,
    /// Shown to super-admins only; `null` for everyone else (SPEC §7). Empty for notices
    /// that carry no code.
    pub code: Option<String>,
    /// Shown to super-admins only; `null` for everyone else.
    pub body: Option<String>,
    pub created_at: String,
}

impl OutboxEntry {
    pub fn of(row: &OutboxRow, codes_shown: bool, offset: UtcOffset) -> OutboxEntry {
        OutboxEntry {
            channel: row.channel.clone(),
            to: row.recipient.clone(),
            code: codes_shown.then(|| row.code.clone()),
            body: codes_shown.then(|| row.body.clone()),
            created_at: clock::format(row.created_at, offset),
        }
    }
}

/// One SMS or e-mail in the delivery log: where it went, through which provider, and how its
/// delivery went. Never the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryEntry {
    pub id: i64,
    /// `sms` or `mail`.
    pub channel: String,
    /// `code` (a verification code) or `notice` (a sign-in method changed).
    pub kind: String,
    pub to: String,
    /// `outbox`, `aliyun`, `tencent` or `smtp`.
    pub provider: String,
    /// `pending`, `sent`, `failed` (the provider refused it, or no more tries), `expired` (the
    /// code expired before it could be delivered) or `skipped` (nothing to send it with).
    pub status: String,
    pub attempts: i64,
    /// The provider's id for the message (Aliyun `BizId`, Tencent `SerialNo`, the e-mail's
    /// `Message-ID`).
    pub provider_message_id: Option<String>,
    /// The last failure, as the provider put it.
    pub error: Option<String>,
    pub created_at: String,
    /// When a pending message is tried next.
    pub next_attempt_at: Option<String>,
    pub finished_at: Option<String>,
}

impl DeliveryEntry {
    pub fn of(row: &DeliveryRow, offset: UtcOffset) -> DeliveryEntry {
        DeliveryEntry {
            id: row.id,
            channel: row.channel.clone(),
            kind: row.kind.clone(),
            to: row.recipient.clone(),
            provider: row.provider.clone(),
            status: row.status.clone(),
            attempts: row.attempts,
            provider_message_id: row.provider_message_id.clone(),
            error: row.last_error.clone(),
            created_at: clock::format(row.created_at, offset),
            next_attempt_at: row.next_attempt_at.map(|at| clock::format(at, offset)),
            finished_at: row.finished_at.map(|at| clock::format(at, offset)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCode {
    pub code: String,
    pub uses: i64,
    /// Never, when null.
    pub expires_at: Option<String>,
}

impl InvitationCode {
    pub fn of(invitation: &Invitation, offset: UtcOffset) -> InvitationCode {
        InvitationCode {
            code: invitation.code.clone(),
            uses: invitation.uses,
            expires_at: invitation.expires_at.map(|at| clock::format(at, offset)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: i64,
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: String,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub created_at: String,
}

impl AdminUserView {
    pub fn of(row: &AdminUser, offset: UtcOffset) -> AdminUserView {
        let user = &row.user;
        AdminUserView {
            id: user.id,
            account: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            nickname: user.nickname.clone(),
            disabled: user.disabled,
            roles: row.roles.clone(),
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// How a user can sign in.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SignInModes)]
pub struct SignInModesView {
    /// A password is set.
    pub password: bool,
    pub phone: bool,
    pub email: bool,
    pub wechat: bool,
    /// Password sign-in is locked until then (too many wrong passwords; `POST
    /// /admin/users/{id}/unlock` lifts it); absent when it is not locked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_locked_until: Option<String>,
}

/// `GET /admin/users/{id}`: one user's profile, figures, sign-in modes and roles (never a
/// password hash or a WeChat identifier).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserDetail {
    pub id: i64,
    pub account: Option<String>,
    pub nickname: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar: String,
    /// 0 unknown, 1 male, 2 female.
    pub sex: i64,
    pub disabled: bool,
    pub created_at: String,
    pub points: i64,
    /// Every point ever credited: what the member level follows.
    pub history_points: i64,
    /// Decimal yuan.
    pub balance: String,
    pub member_level: MemberLevelView,
    pub sign_in: SignInModesView,
    pub roles: Vec<String>,
}

impl AdminUserDetail {
    pub fn of(user: &UserDetail, offset: UtcOffset) -> AdminUserDetail {
        AdminUserDetail {
            id: user.id,
            account: user.account.clone(),
            nickname: user.nickname.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            avatar: user.avatar.clone(),
            sex: user.sex,
            disabled: user.disabled,
            created_at: clock::format(user.created_at, offset),
            points: user.points,
            history_points: user.history_points,
            balance: format_cents(user.balance_cents),
            member_level: MemberLevelView {
                id: user.level.id,
                name: user.level.name.clone(),
                accumulate_points: user.level.accumulate_points,
                discount: format_cents(user.level.discount_percent),
            },
            sign_in: SignInModesView {
                password: user.sign_in.password,
                phone: user.sign_in.phone,
                email: user.sign_in.email,
                wechat: user.sign_in.wechat,
                password_locked_until: user
                    .sign_in
                    .password_locked_until
                    .map(|until| clock::format(until, offset)),
            },
            roles: user.roles.clone(),
        }
    }
}

/// A session that still lets someone in.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSession {
    pub sid: String,
    /// Signed in to the back office (`is_admin`).
    pub admin: bool,
    /// The sign-in.
    pub created_at: String,
    /// The current tokens were issued (the last refresh, or the sign-in).
    pub issued_at: String,
    pub access_expires_at: String,
    /// The session ends unless it is refreshed before.
    pub expires_at: String,
}

impl AdminSession {
    pub fn of(row: &SessionRow, offset: UtcOffset) -> AdminSession {
        AdminSession {
            sid: row.sid.clone(),
            admin: row.admin,
            created_at: clock::format(row.created_at, offset),
            issued_at: clock::format(row.issued_at, offset),
            access_expires_at: clock::format(row.access_expires_at, offset),
            expires_at: clock::format(row.refresh_expires_at, offset),
        }
    }
}

/// How many sessions a revocation ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    pub revoked: usize,
}

/// What unlocking a user lifted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocked {
    /// Password sign-in was locked, and no longer is.
    pub password_was_locked: bool,
    /// The code limits lifted: `sms` for the user's phone, `mail` for their e-mail.
    pub code_channels: Vec<&'static str>,
}

/// A message sent to the user, as the back office lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserMessage {
    pub id: i64,
    pub sender: String,
    pub title: String,
    pub body: String,
    pub is_read: bool,
    pub created_at: String,
}

impl UserMessage {
    pub fn of(row: &MessageRow, offset: UtcOffset) -> UserMessage {
        UserMessage {
            id: row.id,
            sender: row.sender.clone(),
            title: row.title.clone(),
            body: row.body.clone(),
            is_read: row.read,
            created_at: clock::format(row.created_at, offset),
        }
    }
}

/// One of the user's uploads.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserUpload {
    pub id: i64,
    /// `image` or `file`.
    pub kind: String,
    pub name: String,
    /// The content type sniffed from the bytes.
    pub mime: String,
    /// Bytes.
    pub size: u64,
    /// Path on the public host: `/api/storage/{key}`.
    pub src: String,
    pub created_at: String,
}

impl UserUpload {
    pub fn of(row: &UserUploadRow, offset: UtcOffset) -> UserUpload {
        UserUpload {
            id: row.id,
            kind: row.kind.clone(),
            name: row.name.clone(),
            mime: row.mime.clone(),
            size: row.size,
            src: src_of(&row.sha256, &row.ext),
            created_at: clock::format(row.created_at, offset),
        }
    }
}

/// The points figure after an adjustment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointsSurplus {
    pub surplus: i64,
}

/// The balance after an adjustment, as a decimal string.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceSurplus {
    pub surplus: String,
}

/// How many users a message went to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipients {
    pub recipients: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Actor)]
pub struct AuditActor {
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: AuditActor,
    pub action: String,
    pub target_user_id: Option<i64>,
    /// What changed; its fields depend on the action.
    pub detail: serde_json::Value,
    pub ip: String,
    pub created_at: String,
}

impl AuditEntry {
    pub fn of(row: &AuditRow, offset: UtcOffset) -> AuditEntry {
        AuditEntry {
            id: row.id,
            actor: AuditActor {
                id: row.actor_id,
                name: row.actor.clone(),
            },
            action: row.action.clone(),
            target_user_id: row.target_user,
            detail: row.detail.clone(),
            ip: row.ip.clone(),
            created_at: clock::format(row.created_at, offset),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

impl Role {
    pub fn of(role: &RoleRow) -> Role {
        Role {
            id: role.id,
            name: role.name.clone(),
            permissions: role.permissions.clone(),
        }
    }
}
