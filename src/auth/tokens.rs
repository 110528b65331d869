//! Access tokens: RFC 9068 JWTs signed with EdDSA.
//!
//! Verification is strict where `jsonwebtoken`'s defaults are lenient: the algorithm
//! is pinned to EdDSA, `typ` must be `at+jwt`, `iss`, `aud`, `exp`, `nbf` and `sub`
//! are required and checked, the `kid` must be one of ours, and oversized tokens
//! are refused before any parsing.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::{Caller, Role};
use super::keys::KeySet;

/// Longest token accepted; ours are well under 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// How far in the future `iat` may lie (clock skew between our instances).
const MAX_IAT_AHEAD_SECS: u64 = 60;
const TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    /// The organization the client acts for.
    pub org: Uuid,
    pub roles: Vec<Role>,
    pub scope: String,
}

/// Why a token was refused; logged, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    TooLarge,
    Malformed,
    WrongType,
    UnknownKey,
    Invalid,
    /// Issued in the future, or valid for longer than we ever issue.
    Implausible,
    /// From an issuer that is neither embhub nor a trusted OpenID Connect issuer.
    UnknownIssuer,
    /// A person's token whose claims map to no embhub role.
    NoRoles,
    /// A person's token naming no organization embhub knows.
    NoOrganization,
}

impl TokenRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRejection::TooLarge => "token too large",
            TokenRejection::Malformed => "malformed token",
            TokenRejection::WrongType => "not an access token",
            TokenRejection::UnknownKey => "unknown signing key",
            TokenRejection::Invalid => "invalid signature or claims",
            TokenRejection::Implausible => "issued in the future or with too long a lifetime",
            TokenRejection::UnknownIssuer => "unknown issuer",
            TokenRejection::NoRoles => "no role granted by the token's claims",
            TokenRejection::NoOrganization => "the token names no known organization",
        }
    }
}

/// Most verified tokens remembered (see [`TokenService::verify`]).
const VERIFIED_CAPACITY: usize = 4096;

/// Issues and verifies access tokens.
pub struct TokenService {
    keys: KeySet,
    issuer: String,
    audience: String,
    ttl: Duration,
    validation: Validation,
    /// Tokens whose signature and claims were verified, with the caller they name
    /// and their expiry: a client sends the same token for up to its whole
    /// lifetime, and an Ed25519 verification was about a tenth of a small
    /// request's CPU. Only verified tokens get in, keyed by their full text.
    verified: std::sync::Mutex<std::collections::HashMap<String, (Caller, u64)>>,
}

/// A freshly issued token.
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

impl TokenService {
    pub fn new(keys: KeySet, issuer: String, audience: String, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            keys,
            issuer,
            audience,
            ttl,
            validation,
            verified: Default::default(),
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs a token for `client_id` acting for `organization_id` with `roles`.
    pub fn issue(
        &self,
        client_id: Uuid,
        organization_id: Uuid,
        roles: &[Role],
    ) -> anyhow::Result<IssuedToken> {
        let now = jsonwebtoken::get_current_timestamp();
        let scope = roles
            .iter()
            .map(|r| r.as_str().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client_id.to_string(),
            client_id: client_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            jti: Uuid::new_v4().to_string(),
            org: organization_id,
            roles: roles.to_vec(),
            scope: scope.clone(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.keys.signing_kid.clone());
        let access_token = encode(&header, &claims, &self.keys.signing_key)?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl.as_secs(),
            scope,
        })
    }

    /// Verifies `token` and returns the caller it names. A token verified before is
    /// answered from memory until it expires (checked against the clock with the
    /// same leeway as a full verification).
    pub fn verify(&self, token: &str) -> Result<Caller, TokenRejection> {
        self.verify_until(token).map(|(caller, _)| caller)
    }

    /// Like [`Self::verify`], also returning when the token expires (Unix
    /// seconds): a long-lived connection authenticated by it ends then.
    pub fn verify_until(&self, token: &str) -> Result<(Caller, u64), TokenRejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRejection::TooLarge);
        }
        let now = jsonwebtoken::get_current_timestamp();
        if let Ok(verified) = self.verified.lock()
            && let Some((caller, exp)) = verified.get(token)
            && now < exp + LEEWAY_SECS
        {
            return Ok((caller.clone(), *exp));
        }
        let (caller, exp) = self.verify_fully(token)?;
        if let Ok(mut verified) = self.verified.lock() {
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

    /// Checks the signature and every claim of `token`; returns its caller and expiry.
    fn verify_fully(&self, token: &str) -> Result<(Caller, u64), TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenRejection::Invalid);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenRejection::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.verifying_key(kid))
            .ok_or(TokenRejection::UnknownKey)?;
        let data =
            decode::<Claims>(token, key, &self.validation).map_err(|_| TokenRejection::Invalid)?;
        let claims = data.claims;
        let now = jsonwebtoken::get_current_timestamp();
        let longest = self.ttl.as_secs() + LEEWAY_SECS;
        if claims.iat > now + MAX_IAT_AHEAD_SECS
            || claims.exp.saturating_sub(claims.iat) > longest
            || claims.exp.saturating_sub(now) > longest
        {
            return Err(TokenRejection::Implausible);
        }
        let client_id = Uuid::parse_str(&claims.sub).map_err(|_| TokenRejection::Invalid)?;
        if claims.client_id != claims.sub || claims.roles.is_empty() {
            return Err(TokenRejection::Invalid);
        }
        Ok((
            Caller {
                client_id,
                organization_id: claims.org,
                roles: claims.roles,
                person_id: None,
            },
            claims.exp,
        ))
    }
}
