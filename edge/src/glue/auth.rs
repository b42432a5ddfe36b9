//! Access tokens verified at the edge with the origin's public key. The JWKS is fetched from
//! the origin, kept in the isolate, and fetched again when a token names an unknown `kid`.
//! Tokens whose signature passed are remembered in the isolate (`jwt::VerifiedTokens`) until
//! the keys are fetched again; claims and revocation are still checked on every request.

use std::cell::RefCell;

use shared::Problem;
use shared::claims::TokenType;
use shared::headers::{EDGE_SECRET, PRINT_TOKEN};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use super::{error::internal, now_ms, now_secs};
use crate::jwt::{self, KeySet, VerifiedTokens};

/// A verified caller.
pub struct Caller {
    pub user_id: i64,
    pub sid: String,
    pub jti: String,
}

thread_local! {
    static KEYS: RefCell<Option<(KeySet, u64)>> = const { RefCell::new(None) };
    static VERIFIED: RefCell<VerifiedTokens> = RefCell::new(VerifiedTokens::default());
}

/// An unknown `kid` refetches the JWKS at most this often, so garbage tokens cannot make the
/// edge hammer the origin.
const REFETCH_INTERVAL_MS: u64 = 1_000;

async fn fetch_keys(env: &Env) -> Result<(), Problem> {
    let (origin, secret) = super::origin_settings(env)?;
    let headers = Headers::new();
    headers
        .set(EDGE_SECRET, &secret)
        .map_err(|e| internal("headers", e))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&format!("{origin}/.well-known/jwks.json"), &init)
        .map_err(|e| internal("jwks request", e))?;
    let mut response = Fetch::Request(request)
        .send()
        .await
        .map_err(|_| Problem::BadGateway)?;
    if response.status_code() != 200 {
        return Err(Problem::BadGateway);
    }
    let document = response.bytes().await.map_err(|_| Problem::BadGateway)?;
    let keys = KeySet::from_jwks(&document).map_err(|_| Problem::BadGateway)?;
    KEYS.with(|cell| *cell.borrow_mut() = Some((keys, now_ms())));
    VERIFIED.with(|cell| cell.borrow_mut().clear());
    Ok(())
}

/// The key set, refetched first if it lacks `kid` and was not fetched within the last second.
async fn keys_for(env: &Env, kid: &str) -> Result<KeySet, Problem> {
    let (cached, stale) = KEYS.with(|cell| match &*cell.borrow() {
        Some((keys, at)) => (Some(keys.clone()), now_ms() - at >= REFETCH_INTERVAL_MS),
        None => (None, true),
    });
    match cached {
        Some(keys) if keys.contains(kid) || !stale => Ok(keys),
        _ => {
            fetch_keys(env).await?;
            KEYS.with(|cell| cell.borrow().as_ref().map(|(keys, _)| keys.clone()))
                .ok_or(Problem::Unauthenticated)
        }
    }
}

/// Verifies the request's access token: EdDSA with a key from the origin's JWKS, then the
/// claims (`iss`, `aud`, `typ = access`, `exp`) as `shared` checks them.
pub async fn verify(env: &Env, request: &Request) -> Result<Caller, Problem> {
    let header = |name: &str| request.headers().get(name).ok().flatten();
    let (token_header, authorization) = (header(PRINT_TOKEN), header("authorization"));
    let token = shared::claims::presented_token(token_header.as_deref(), authorization.as_deref())
        .ok_or(Problem::Unauthenticated)?;
    let kid = jwt::key_id(token).map_err(|_| Problem::Unauthenticated)?;
    let keys = keys_for(env, &kid).await?;
    let claims = VERIFIED
        .with(|cell| cell.borrow_mut().verify(token, &keys))
        .map_err(|_| Problem::Unauthenticated)?;
    let user_id = claims
        .validate(now_secs(), TokenType::Access, 0)
        .map_err(|_| Problem::Unauthenticated)?;
    Ok(Caller {
        user_id,
        sid: claims.sid,
        jti: claims.jti,
    })
}
