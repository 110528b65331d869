//! People signing in through their organization's own OpenID Connect provider.
//!
//! embhub is a resource server here: it never sees a password. An operator lists
//! the issuers it trusts (`EMBHUB_OIDC_ISSUERS_FILE`); a console signs its people
//! in with their provider and sends the provider's JWT access token as a bearer
//! token. This module checks such a token — issuer, signature against the
//! issuer's published keys, and every claim — and says who the person is, which
//! organization the issuer's configuration puts them in and which roles its
//! claims map to. Deciding what they may do stays with the service layer.
//!
//! Verification follows RFC 8725 as our own tokens do: the algorithm is pinned per
//! issuer to an allow-list of asymmetric ones (never `none` or HMAC), must agree
//! with the key's own `alg`, the token's `typ` is checked (explicit typing), `iss`
//! and `aud` must match exactly, `exp` is required and bounded, `iat` may not lie
//! in the future, `crit` is refused, RSA keys shorter than 2048 bits are ignored,
//! and header URLs (`jku`, `x5u`, embedded `jwk`) are never followed.
//!
//! Keys come from the issuer's JWKS (its URL configured, or found by discovery)
//! and are cached: a token whose `kid` is cached never waits on the provider, so a
//! JWKS outage does not break it. An unknown `kid` fetches the JWKS again, at most
//! once per `jwks_min_refresh_secs` (60 by default) per issuer; keys older than
//! an hour are refreshed on use, and kept if the refresh fails.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::caller::Role;
use super::tokens::TokenRejection;

/// Longest person token accepted: providers put groups and other claims in them,
/// so more room than our own tokens need.
pub const MAX_PERSON_TOKEN_BYTES: usize = 8192;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// How far in the future `iat` may lie.
const MAX_IAT_AHEAD_SECS: u64 = 60;
/// Cached keys older than this are refreshed on use (kept if that fails).
const KEY_MAX_AGE: Duration = Duration::from_secs(3600);
/// Longest a discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Shortest RSA modulus accepted (RFC 8725 §3.5; NIST: 2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;
/// Longest name or email kept from a token.
const MAX_TEXT_CHARS: usize = 200;
/// Longest `sub` accepted.
const MAX_SUBJECT_CHARS: usize = 255;

/// Where an issuer's keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// The JWKS URL, given.
    Uri(String),
    /// Read `jwks_uri` from `<issuer>/.well-known/openid-configuration`.
    Discovery,
}

/// Which organization an issuer's people act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationRule {
    /// Everyone the issuer signs in belongs to this organization.
    Fixed(OrganizationRef),
    /// A claim names the organization, matched against acronyms or ids.
    Claim {
        claim: String,
        by: OrganizationMatch,
    },
}

/// How a claim's value names an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationMatch {
    /// The organization's acronym, case-insensitively (acronyms are unique).
    Acronym,
    /// The organization's UUID.
    Id,
}

/// An organization as an issuer's configuration or a token names it; the
/// service layer looks it up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OrganizationRef {
    Acronym(String),
    Id(Uuid),
}

/// One trusted issuer, checked.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// `iss`, exactly.
    pub issuer: String,
    pub jwks: JwksSource,
    /// Required in `aud`.
    pub audience: String,
    pub algorithms: Vec<Algorithm>,
    /// Accepted `typ` header values (compared case-insensitively).
    pub token_types: Vec<String>,
    pub organization: OrganizationRule,
    /// Claim (a dotted path such as `realm_access.roles`) holding the person's
    /// groups or roles: an array of strings or one space-separated string.
    pub roles_claim: String,
    /// Claim value → embhub roles.
    pub role_map: HashMap<String, Vec<Role>>,
    pub name_claim: String,
    pub email_claim: String,
    /// Longest lifetime a token may claim.
    pub max_token_lifetime: Duration,
    /// Least time between two JWKS fetches for unknown `kid`s.
    pub jwks_min_refresh: Duration,
}

/// The issuers file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuersFile {
    issuers: Vec<RawIssuer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    discovery: bool,
    audience: String,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    token_types: Option<Vec<String>>,
    organization: RawOrganization,
    roles: RawRoles,
    #[serde(default)]
    name_claim: Option<String>,
    #[serde(default)]
    email_claim: Option<String>,
    #[serde(default)]
    max_token_lifetime_secs: Option<u64>,
    #[serde(default)]
    jwks_min_refresh_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    #[serde(default)]
    acronym: Option<String>,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    claim: Option<String>,
    #[serde(default, rename = "match")]
    by: Option<OrganizationMatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    claim: String,
    map: HashMap<String, RoleList>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RoleList {
    One(String),
    Many(Vec<String>),
}

/// Algorithms an issuer may use: asymmetric only. HMAC would need a secret shared
/// with the provider and lets anyone holding it mint tokens; `none` is no
/// signature at all.
const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Whether `url` may be fetched: https, or http to this machine (a provider in
/// a test or on the same host).
fn check_fetchable(url: &str, what: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("{what} {url:?}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => {
            anyhow::bail!("{what} {url:?} must be https (http only to 127.0.0.1, ::1 or localhost)")
        }
    }
}

impl IssuerConfig {
    /// Reads and checks the issuers file (`EMBHUB_OIDC_ISSUERS_FILE`).
    pub fn load_file(path: &Path) -> anyhow::Result<Vec<Self>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read EMBHUB_OIDC_ISSUERS_FILE {}: {e}",
                path.display()
            )
        })?;
        Self::from_json(&text)
            .map_err(|e| anyhow::anyhow!("EMBHUB_OIDC_ISSUERS_FILE {}: {e}", path.display()))
    }

    /// Parses and checks the issuers file's text.
    pub fn from_json(text: &str) -> anyhow::Result<Vec<Self>> {
        let file: IssuersFile = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("not a valid issuers file: {e}"))?;
        let mut issuers: Vec<Self> = Vec::new();
        for raw in file.issuers {
            let issuer = Self::check(raw)?;
            if issuers.iter().any(|i| i.issuer == issuer.issuer) {
                anyhow::bail!("issuer {:?} is listed twice", issuer.issuer);
            }
            issuers.push(issuer);
        }
        Ok(issuers)
    }

    fn check(raw: RawIssuer) -> anyhow::Result<Self> {
        let issuer = raw.issuer.trim().to_owned();
        let name = |what: &str| format!("issuer {issuer:?}: {what}");
        check_fetchable(&issuer, &name("issuer URL"))?;
        let jwks = match (raw.jwks_uri, raw.discovery) {
            (Some(uri), false) => {
                check_fetchable(&uri, &name("jwks_uri"))?;
                JwksSource::Uri(uri)
            }
            (None, true) => JwksSource::Discovery,
            _ => anyhow::bail!("{}", name("give either jwks_uri or \"discovery\": true")),
        };
        if raw.audience.trim().is_empty() {
            anyhow::bail!("{}", name("audience is required"));
        }
        let names = raw
            .algorithms
            .unwrap_or_else(|| vec!["RS256".into(), "ES256".into(), "EdDSA".into()]);
        let mut algorithms = Vec::new();
        for alg in &names {
            let parsed = Algorithm::from_str(alg)
                .ok()
                .filter(|a| ALLOWED_ALGORITHMS.contains(a))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}",
                        name(&format!(
                            "algorithm {alg:?} is not allowed (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA; never none or HMAC)"
                        ))
                    )
                })?;
            algorithms.push(parsed);
        }
        if algorithms.is_empty() {
            anyhow::bail!("{}", name("algorithms must not be empty"));
        }
        let token_types = raw
            .token_types
            .unwrap_or_else(|| vec!["at+jwt".into(), "application/at+jwt".into()]);
        if token_types.is_empty() {
            anyhow::bail!("{}", name("token_types must not be empty"));
        }
        let organization = match raw.organization {
            RawOrganization {
                acronym: Some(acronym),
                id: None,
                claim: None,
                by: None,
            } if !acronym.trim().is_empty() => {
                OrganizationRule::Fixed(OrganizationRef::Acronym(acronym.trim().to_owned()))
            }
            RawOrganization {
                acronym: None,
                id: Some(id),
                claim: None,
                by: None,
            } => OrganizationRule::Fixed(OrganizationRef::Id(id)),
            RawOrganization {
                acronym: None,
                id: None,
                claim: Some(claim),
                by: Some(by),
            } if !claim.trim().is_empty() => OrganizationRule::Claim {
                claim: claim.trim().to_owned(),
                by,
            },
            _ => anyhow::bail!(
                "{}",
                name(
                    "organization must be {\"acronym\": …}, {\"id\": …} or {\"claim\": …, \"match\": \"acronym\" | \"id\"}"
                )
            ),
        };
        if raw.roles.claim.trim().is_empty() {
            anyhow::bail!("{}", name("roles.claim is required"));
        }
        let mut role_map = HashMap::new();
        for (value, roles) in raw.roles.map {
            let list = match roles {
                RoleList::One(role) => vec![role],
                RoleList::Many(roles) => roles,
            };
            let mut parsed = Vec::new();
            for role in list {
                parsed.push(Role::parse(&role).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}",
                        name(&format!(
                            "roles.map[{value:?}]: {role:?} is not a role (ADMIN, COORDINATOR, PARTNER, READER or DIRECTORY)"
                        ))
                    )
                })?);
            }
            role_map.insert(value, parsed);
        }
        if role_map.is_empty() {
            anyhow::bail!(
                "{}",
                name("roles.map must map at least one claim value to roles")
            );
        }
        let max_token_lifetime_secs = raw.max_token_lifetime_secs.unwrap_or(86_400);
        if !(60..=7 * 86_400).contains(&max_token_lifetime_secs) {
            anyhow::bail!(
                "{}",
                name("max_token_lifetime_secs must be between 60 and 604800")
            );
        }
        let jwks_min_refresh_secs = raw.jwks_min_refresh_secs.unwrap_or(60);
        if !(1..=3600).contains(&jwks_min_refresh_secs) {
            anyhow::bail!(
                "{}",
                name("jwks_min_refresh_secs must be between 1 and 3600")
            );
        }
        Ok(Self {
            issuer,
            jwks,
            audience: raw.audience.trim().to_owned(),
            algorithms,
            token_types,
            organization,
            roles_claim: raw.roles.claim.trim().to_owned(),
            role_map,
            name_claim: raw.name_claim.unwrap_or_else(|| "name".into()),
            email_claim: raw.email_claim.unwrap_or_else(|| "email".into()),
            max_token_lifetime: Duration::from_secs(max_token_lifetime_secs),
            jwks_min_refresh: Duration::from_secs(jwks_min_refresh_secs),
        })
    }
}

/// A person a trusted issuer vouches for, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonIdentity {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub organization: OrganizationRef,
    pub roles: Vec<Role>,
    /// When the token expires (Unix seconds).
    pub expires_at: u64,
}

/// One verification key from a JWKS.
#[derive(Clone)]
struct CachedKey {
    key: DecodingKey,
    /// The key's own `alg`, when the JWK states one: the token's must equal it.
    alg: Option<Algorithm>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Found by discovery, once.
    jwks_uri: Option<String>,
}

struct Issuer {
    config: IssuerConfig,
    cache: RwLock<KeyCache>,
    /// One fetch at a time per issuer; others wait and then look again.
    fetching: tokio::sync::Mutex<()>,
}

/// The trusted issuers and their cached keys.
pub struct OidcIssuers {
    issuers: HashMap<String, Arc<Issuer>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for OidcIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcIssuers")
            .field("issuers", &self.issuers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads a JWT part (base64url JSON) without verifying anything: only to pick
/// which issuer's rules verify the token.
fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Follows a dotted path (`realm_access.roles`) into the claims.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(direct) = claims.get(path) {
        return Some(direct);
    }
    path.split('.')
        .try_fold(claims, |value, key| value.get(key))
}

/// A display string from a claim: trimmed, control characters dropped, bounded.
fn text_claim(claims: &Value, path: &str) -> Option<String> {
    let raw = claim(claims, path)?.as_str()?;
    let clean: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

impl OidcIssuers {
    /// The issuers of `configs`; nothing is fetched until a token arrives, so
    /// embhub starts while a provider is down.
    pub fn new(configs: Vec<IssuerConfig>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the JWKS client: {e}"))?;
        let issuers = configs
            .into_iter()
            .map(|config| {
                (
                    config.issuer.clone(),
                    Arc::new(Issuer {
                        config,
                        cache: RwLock::new(KeyCache::default()),
                        fetching: tokio::sync::Mutex::new(()),
                    }),
                )
            })
            .collect();
        Ok(Self { issuers, http })
    }

    /// Whether no issuer is configured (people cannot sign in).
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Whether `token` claims to come from one of the trusted issuers (unverified:
    /// it only routes the token to [`Self::verify`]).
    pub fn claims_trusted_issuer(&self, token: &str) -> bool {
        peek_issuer(token).is_some_and(|iss| self.issuers.contains_key(&iss))
    }

    /// The issuer a token claims, if it is not one of ours: for logs.
    pub fn claimed_issuer(token: &str) -> Option<String> {
        peek_issuer(token)
    }

    /// Verifies a person's token from a trusted issuer and says who they are.
    pub async fn verify(&self, token: &str) -> Result<PersonIdentity, TokenRejection> {
        if token.len() > MAX_PERSON_TOKEN_BYTES {
            return Err(TokenRejection::TooLarge);
        }
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        let iss = peek_issuer(token).ok_or(TokenRejection::Malformed)?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or(TokenRejection::UnknownIssuer)?;
        let config = &issuer.config;
        if header.crit.is_some() {
            return Err(TokenRejection::Invalid);
        }
        if !config.algorithms.contains(&header.alg) {
            return Err(TokenRejection::Invalid);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            config
                .token_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(typ))
        });
        if !typ_ok {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
        let key = self
            .key(issuer, kid)
            .await
            .ok_or(TokenRejection::UnknownKey)?;
        if key.alg.is_some_and(|alg| alg != header.alg) {
            return Err(TokenRejection::Invalid);
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<Value>(token, &key.key, &validation)
            .map_err(|_| TokenRejection::Invalid)?
            .claims;
        self.identity(config, &claims)
    }

    /// The person a verified token's claims name, with its lifetime checked.
    fn identity(
        &self,
        config: &IssuerConfig,
        claims: &Value,
    ) -> Result<PersonIdentity, TokenRejection> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = claims["exp"].as_u64().ok_or(TokenRejection::Invalid)?;
        let iat = claims["iat"].as_u64().ok_or(TokenRejection::Invalid)?;
        let longest = config.max_token_lifetime.as_secs() + LEEWAY_SECS;
        if iat > now + MAX_IAT_AHEAD_SECS
            || exp.saturating_sub(iat) > longest
            || exp.saturating_sub(now) > longest
        {
            return Err(TokenRejection::Implausible);
        }
        let subject = claims["sub"]
            .as_str()
            .filter(|s| {
                !s.is_empty()
                    && s.chars().count() <= MAX_SUBJECT_CHARS
                    && !s.chars().any(char::is_control)
            })
            .ok_or(TokenRejection::Invalid)?
            .to_owned();
        let organization = match &config.organization {
            OrganizationRule::Fixed(organization) => organization.clone(),
            OrganizationRule::Claim { claim: path, by } => {
                let value = text_claim(claims, path).ok_or(TokenRejection::NoOrganization)?;
                match by {
                    OrganizationMatch::Acronym => OrganizationRef::Acronym(value),
                    OrganizationMatch::Id => OrganizationRef::Id(
                        Uuid::parse_str(&value).map_err(|_| TokenRejection::NoOrganization)?,
                    ),
                }
            }
        };
        let granted: Vec<&str> = match claim(claims, &config.roles_claim) {
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(values)) => values.split_whitespace().collect(),
            _ => Vec::new(),
        };
        let mut roles = Vec::new();
        for value in granted {
            for role in config.role_map.get(value).into_iter().flatten() {
                if !roles.contains(role) {
                    roles.push(*role);
                }
            }
        }
        if roles.is_empty() {
            return Err(TokenRejection::NoRoles);
        }
        Ok(PersonIdentity {
            issuer: config.issuer.clone(),
            subject,
            name: text_claim(claims, &config.name_claim)
                .or_else(|| text_claim(claims, "preferred_username")),
            email: text_claim(claims, &config.email_claim).filter(|e| e.contains('@')),
            organization,
            roles,
            expires_at: exp,
        })
    }

    /// The key `kid` of `issuer`: from the cache, or after a JWKS fetch (at most
    /// one per `jwks_min_refresh` for unknown kids; an hour-old cache is refreshed,
    /// and kept if that fails).
    async fn key(&self, issuer: &Issuer, kid: &str) -> Option<CachedKey> {
        let (cached, stale) = {
            let cache = issuer.cache.read().ok()?;
            (
                cache.keys.get(kid).cloned(),
                cache.fetched_at.is_none_or(|at| at.elapsed() > KEY_MAX_AGE),
            )
        };
        if let Some(key) = cached {
            if !stale {
                return Some(key);
            }
            // Refresh an old cache without making anyone wait on another fetch.
            let Ok(_guard) = issuer.fetching.try_lock() else {
                return Some(key);
            };
            if !self.may_fetch(issuer) {
                return Some(key);
            }
            return match self.refresh(issuer).await {
                // The provider dropped the key: it no longer signs with it.
                Ok(()) => issuer.cache.read().ok()?.keys.get(kid).cloned(),
                Err(_) => Some(key),
            };
        }
        let _guard = issuer.fetching.lock().await;
        // Someone may have fetched while this one waited.
        if let Some(key) = issuer.cache.read().ok()?.keys.get(kid).cloned() {
            return Some(key);
        }
        if !self.may_fetch(issuer) {
            return None;
        }
        self.refresh(issuer).await.ok()?;
        issuer.cache.read().ok()?.keys.get(kid).cloned()
    }

    fn may_fetch(&self, issuer: &Issuer) -> bool {
        issuer.cache.read().is_ok_and(|cache| {
            cache
                .last_attempt
                .is_none_or(|at| at.elapsed() >= issuer.config.jwks_min_refresh)
        })
    }

    /// Fetches the issuer's JWKS and replaces its cached keys; on failure the
    /// cache is kept as it was.
    async fn refresh(&self, issuer: &Issuer) -> anyhow::Result<()> {
        if let Ok(mut cache) = issuer.cache.write() {
            cache.last_attempt = Some(Instant::now());
        }
        let result = self.fetch_keys(issuer).await;
        match &result {
            Ok(keys) => {
                tracing::info!(issuer = %issuer.config.issuer, keys = keys.len(), "fetched the issuer's JWKS");
                if let Ok(mut cache) = issuer.cache.write() {
                    cache.keys = keys.clone();
                    cache.fetched_at = Some(Instant::now());
                }
            }
            Err(err) => {
                tracing::warn!(issuer = %issuer.config.issuer, error = %err, "cannot fetch the issuer's JWKS; keeping the cached keys");
            }
        }
        result.map(|_| ())
    }

    async fn fetch_keys(&self, issuer: &Issuer) -> anyhow::Result<HashMap<String, CachedKey>> {
        let uri = match &issuer.config.jwks {
            JwksSource::Uri(uri) => uri.clone(),
            JwksSource::Discovery => {
                let known = issuer.cache.read().ok().and_then(|c| c.jwks_uri.clone());
                match known {
                    Some(uri) => uri,
                    None => {
                        let uri = self.discover(&issuer.config).await?;
                        if let Ok(mut cache) = issuer.cache.write() {
                            cache.jwks_uri = Some(uri.clone());
                        }
                        uri
                    }
                }
            }
        };
        let jwks = self.get_json(&uri).await?;
        let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
            anyhow::bail!("{uri} is not a JWK Set (no \"keys\" array)");
        };
        Ok(keys.iter().filter_map(usable_key).collect())
    }

    /// `jwks_uri` from the issuer's discovery document, whose `issuer` must be the
    /// configured one exactly (OpenID Connect Discovery §4.3).
    async fn discover(&self, config: &IssuerConfig) -> anyhow::Result<String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let document = self.get_json(&url).await?;
        if document["issuer"].as_str() != Some(config.issuer.as_str()) {
            anyhow::bail!("the discovery document at {url} names another issuer");
        }
        let uri = document["jwks_uri"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the discovery document at {url} has no jwks_uri"))?
            .to_owned();
        check_fetchable(&uri, "jwks_uri")?;
        Ok(uri)
    }

    async fn get_json(&self, url: &str) -> anyhow::Result<Value> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            anyhow::bail!("GET {url}: {}", response.status());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                anyhow::bail!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes");
            }
        }
        serde_json::from_slice(&body).map_err(|e| anyhow::anyhow!("GET {url}: not JSON: {e}"))
    }
}

/// A signing key of a JWKS, if it is one we may use: it has a `kid`, is not for
/// encryption, parses, and an RSA key is at least 2048 bits.
fn usable_key(value: &Value) -> Option<(String, CachedKey)> {
    let kid = value.get("kid")?.as_str()?.to_owned();
    if value
        .get("use")
        .and_then(Value::as_str)
        .is_some_and(|u| u != "sig")
    {
        return None;
    }
    let alg = match value.get("alg").and_then(Value::as_str) {
        None => None,
        Some(name) => Some(
            Algorithm::from_str(name)
                .ok()
                .filter(|a| ALLOWED_ALGORITHMS.contains(a))?,
        ),
    };
    let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD.decode(rsa.n.trim_end_matches('=')).ok()?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                tracing::warn!(%kid, bits = significant * 8, "ignoring an RSA key shorter than 2048 bits");
                return None;
            }
        }
        AlgorithmParameters::EllipticCurve(_) | AlgorithmParameters::OctetKeyPair(_) => {}
        // Symmetric keys (`oct`) and anything else are never used.
        _ => return None,
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, CachedKey { key, alg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"issuers": [{
        "issuer": "https://id.example.org",
        "discovery": true,
        "audience": "embhub-api",
        "organization": {"acronym": "NEC"},
        "roles": {"claim": "groups", "map": {"staff": "PARTNER", "leads": ["COORDINATOR", "PARTNER"]}}
    }]}"#;

    #[test]
    fn an_issuers_file_parses_with_safe_defaults() {
        let issuers = IssuerConfig::from_json(MINIMAL).unwrap();
        let issuer = &issuers[0];
        assert_eq!(issuer.jwks, JwksSource::Discovery);
        assert_eq!(
            issuer.algorithms,
            vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        );
        assert_eq!(issuer.token_types, vec!["at+jwt", "application/at+jwt"]);
        assert_eq!(
            issuer.organization,
            OrganizationRule::Fixed(OrganizationRef::Acronym("NEC".into()))
        );
        assert_eq!(
            issuer.role_map["leads"],
            vec![Role::Coordinator, Role::Partner]
        );
        assert_eq!(issuer.jwks_min_refresh, Duration::from_secs(60));
    }

    #[test]
    fn unsafe_or_ambiguous_issuers_are_refused_with_a_reason() {
        let cases = [
            (
                MINIMAL.replace(
                    "\"discovery\": true,",
                    "\"algorithms\": [\"HS256\"], \"discovery\": true,",
                ),
                "HS256",
            ),
            (
                MINIMAL.replace(
                    "\"discovery\": true,",
                    "\"algorithms\": [\"none\"], \"discovery\": true,",
                ),
                "none",
            ),
            (MINIMAL.replace("\"discovery\": true,", ""), "jwks_uri"),
            (
                MINIMAL.replace("https://id.example.org", "http://id.example.org"),
                "https",
            ),
            (
                MINIMAL.replace("\"PARTNER\", \"leads\"", "\"OWNER\", \"leads\""),
                "OWNER",
            ),
            (
                MINIMAL.replace(
                    "{\"acronym\": \"NEC\"}",
                    "{\"acronym\": \"NEC\", \"claim\": \"org\"}",
                ),
                "organization",
            ),
            (
                MINIMAL.replace("\"audience\"", "\"audiences\""),
                "audiences",
            ),
        ];
        for (text, expected) in cases {
            let err = IssuerConfig::from_json(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let mut file: Value = serde_json::from_str(MINIMAL).unwrap();
        let first = file["issuers"][0].clone();
        file["issuers"].as_array_mut().unwrap().push(first);
        let twice = file.to_string();
        let err = IssuerConfig::from_json(&twice).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn the_documented_example_file_is_valid() {
        let example = include_str!("../../config/oidc-issuers.example.json");
        let issuers = IssuerConfig::from_json(example).unwrap();
        assert_eq!(issuers.len(), 2);
        assert_eq!(issuers[1].token_types.len(), 3);
    }

    #[test]
    fn http_is_allowed_only_to_this_machine() {
        assert!(check_fetchable("http://127.0.0.1:9000/jwks", "x").is_ok());
        assert!(check_fetchable("http://localhost/jwks", "x").is_ok());
        assert!(check_fetchable("http://[::1]:1/jwks", "x").is_ok());
        assert!(check_fetchable("https://id.example.org/jwks", "x").is_ok());
        assert!(check_fetchable("http://10.0.0.1/jwks", "x").is_err());
        assert!(check_fetchable("file:///etc/passwd", "x").is_err());
    }

    #[test]
    fn role_claims_may_be_nested_arrays_or_space_separated() {
        let claims = serde_json::json!({"realm_access": {"roles": ["a"]}, "scope": "x y"});
        assert_eq!(
            claim(&claims, "realm_access.roles"),
            Some(&serde_json::json!(["a"]))
        );
        assert_eq!(claim(&claims, "scope"), Some(&serde_json::json!("x y")));
        assert_eq!(claim(&claims, "missing.path"), None);
    }
}
