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
