//! Views of the store document.

use super::*;

/// `POST /api/captchas`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Captcha {
    pub captcha_key: String,
    pub expired_at: String,
    /// `data:image/png;base64,…`
    pub captcha_image_content: String,
}

/// The store's view of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreUser {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar: String,
    pub created_at: String,
}

impl StoreUser {
    pub fn of(user: &UserRow, offset: UtcOffset) -> StoreUser {
        StoreUser {
            id: user.id,
            name: user.nickname.clone(),
            username: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            avatar: user.avatar.clone(),
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// The store's token answer (login, refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreToken {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
}

impl StoreToken {
    pub fn of(tokens: &IssuedTokens) -> StoreToken {
        StoreToken {
            access_token: tokens.access_token.clone(),
            token_type: "bearer",
            expires_in: tokens.access_ttl_secs,
        }
    }
}

/// The store's registration answer: the token fields and the new user.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreRegistered {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: StoreUser,
}

impl StoreRegistered {
    pub fn of(tokens: &IssuedTokens, user: StoreUser) -> StoreRegistered {
        let token = StoreToken::of(tokens);
        StoreRegistered {
            access_token: token.access_token,
            token_type: token.token_type,
            expires_in: token.expires_in,
            user,
        }
    }
}

/// A shipping address as the store shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreAddress {
    pub id: i64,
    pub province: String,
    pub city: String,
    pub district: String,
    pub address: String,
    pub zip: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub is_default: bool,
    pub created_at: String,
}

impl StoreAddress {
    pub fn of(row: &AddressRow, offset: UtcOffset) -> StoreAddress {
        StoreAddress {
            id: row.id,
            province: row.province.clone(),
            city: row.city.clone(),
            district: row.district.clone(),
            address: row.address.clone(),
            zip: row.zip.clone(),
            contact_name: row.contact_name.clone(),
            contact_phone: row.contact_phone.clone(),
            is_default: row.is_default,
            created_at: clock::format(row.created_at, offset),
        }
    }
}
