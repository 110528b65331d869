//! Bearer tokens of either kind: embhub's own (API clients) or a person's from a
//! trusted OpenID Connect issuer, told apart by the `iss` they claim and then
//! verified by that issuer's rules only.

use std::collections::HashMap;
use std::sync::Mutex;

use super::AppState;
use crate::auth::Caller;
use crate::auth::oidc::OidcIssuers;
use crate::auth::tokens::TokenRejection;
use crate::error::AppError;
use crate::service::people;

/// Most verified person tokens remembered.
const VERIFIED_CAPACITY: usize = 4096;
/// Clock skew tolerated on a remembered token's expiry, as on a full check.
const LEEWAY_SECS: u64 = 30;

/// The trusted issuers, and person tokens already verified and signed in: a
/// console sends the same token for its whole lifetime, and each new one costs a
/// signature check and two statements.
pub struct PeopleAuth {
    issuers: OidcIssuers,
    verified: Mutex<HashMap<String, (Caller, u64)>>,
}

impl PeopleAuth {
    pub fn new(issuers: OidcIssuers) -> Self {
        Self {
            issuers,
            verified: Mutex::default(),
        }
    }
}

/// Why a bearer token did not authenticate.
pub enum AuthFailure {
    /// A bad token: 401 (the reason is logged, never sent).
    Rejected(TokenRejection),
    /// The database failed while signing a person in.
    Failed(AppError),
}

/// The caller a bearer token names and when the token expires (Unix seconds).
pub async fn authenticate(state: &AppState, token: &str) -> Result<(Caller, u64), AuthFailure> {
    let people = &state.people;
    if people.issuers.is_empty() || !people.issuers.claims_trusted_issuer(token) {
        return state.tokens.verify_until(token).map_err(|rejection| {
            let foreign =
                OidcIssuers::claimed_issuer(token).is_some_and(|iss| iss != state.tokens.issuer());
            AuthFailure::Rejected(if foreign {
                TokenRejection::UnknownIssuer
            } else {
                rejection
            })
        });
    }
    let now = jsonwebtoken::get_current_timestamp();
    if let Ok(verified) = people.verified.lock()
        && let Some((caller, exp)) = verified.get(token)
        && now < exp + LEEWAY_SECS
    {
        return Ok((caller.clone(), *exp));
    }
    let identity = people
        .issuers
        .verify(token)
        .await
        .map_err(AuthFailure::Rejected)?;
    let caller = people::sign_in(&state.db, &identity)
        .await
        .map_err(AuthFailure::Failed)?
        .ok_or(AuthFailure::Rejected(TokenRejection::NoOrganization))?;
    let exp = identity.expires_at;
    if let Ok(mut verified) = people.verified.lock() {
        if verified.len() >= VERIFIED_CAPACITY {
            verified.retain(|_, (_, exp)| now < *exp + LEEWAY_SECS);
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), (caller.clone(), exp));
    }
    Ok((caller, exp))
}
