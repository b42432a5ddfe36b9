//! Views of the print document: identity, profile, addresses and uploads.

use super::*;

// ---- Print: identity and profile ---------------------------------------------------------

/// `POST /api/sms`, `POST /api/mail`: the token to send back with the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationToken {
    pub verification_token: String,
}

/// The print's token answer (register, login, refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub access_token_expire: i64,
}

impl PrintTokens {
    pub fn of(tokens: &IssuedTokens) -> PrintTokens {
        PrintTokens {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            access_token_expire: tokens.access_ttl_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberLevelView {
    pub id: i64,
    pub name: String,
    pub accumulate_points: i64,
    /// The fraction of the price paid, two decimals (`"0.95"`).
    pub discount: String,
}

/// `GET /api/users/self`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintSelf {
    pub id: i64,
    pub nickname: String,
    pub avatar: String,
    /// 0 unknown, 1 male, 2 female.
    pub sex: i64,
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub member_level: MemberLevelView,
    pub accumulate_points: i64,
    pub history_accumulate_points: i64,
    pub balance: String,
    pub is_bind_account: bool,
    pub is_bind_phone: bool,
    pub is_bind_email: bool,
    pub is_bind_wx: bool,
    pub created_at: String,
}

impl PrintSelf {
    pub fn of(profile: &Profile, offset: UtcOffset) -> PrintSelf {
        let (user, wallet, level) = (&profile.user, &profile.wallet, &profile.level);
        PrintSelf {
            id: user.id,
            nickname: user.nickname.clone(),
            avatar: user.avatar.clone(),
            sex: user.sex,
            account: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            member_level: MemberLevelView {
                id: level.id,
                name: level.name.clone(),
                accumulate_points: level.accumulate_points,
                discount: format_cents(level.discount_percent),
            },
            accumulate_points: wallet.points,
            history_accumulate_points: wallet.history_points,
            balance: format_cents(wallet.balance_cents),
            is_bind_account: user.account.is_some(),
            is_bind_phone: user.phone.is_some(),
            is_bind_email: user.email.is_some(),
            is_bind_wx: user.wechat_bound,
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// A shipping address as the print shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintAddress {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub county: String,
    pub detail: String,
    pub is_default: bool,
}

impl PrintAddress {
    pub fn of(row: &AddressRow) -> PrintAddress {
        PrintAddress {
            id: row.id,
            name: row.contact_name.clone(),
            phone: row.contact_phone.clone(),
            province: row.province.clone(),
            city: row.city.clone(),
            county: row.district.clone(),
            detail: row.address.clone(),
            is_default: row.is_default,
        }
    }
}

// ---- Print: uploads ----------------------------------------------------------------------

/// An uploaded image.
#[derive(Debug, Serialize, ToSchema)]
pub struct Image {
    pub id: i64,
    /// Path on this host: `/api/storage/{key}`.
    pub src: String,
}

impl Image {
    pub fn of(row: &UploadRow) -> Image {
        Image {
            id: row.id,
            src: src_of(&row.sha256, &row.ext),
        }
    }
}

/// An uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct File {
    pub id: i64,
    pub name: String,
    pub src: String,
}

impl File {
    pub fn of(row: &UploadRow) -> File {
        File {
            id: row.id,
            name: row.name.clone(),
            src: src_of(&row.sha256, &row.ext),
        }
    }
}
