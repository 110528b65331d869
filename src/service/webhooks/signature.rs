//! Standard Webhooks signing (<https://www.standardwebhooks.com/>), so receivers
//! verify our deliveries with the existing libraries instead of our code.
//!
//! A secret is `whsec_` followed by the base64 of 32 random bytes; the key is the
//! decoded bytes. Each delivery carries `webhook-id`, `webhook-timestamp` (unix
//! seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`;
//! during a rotation's grace period one `v1,…` per secret, separated by spaces,
//! so a receiver holding either secret accepts the delivery.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix Standard Webhooks libraries expect on a secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: 32 bytes from the operating system's generator (the
/// length the specification recommends for HMAC-SHA256 keys).
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key of a `whsec_…` secret; `None` for a malformed one (never produced
/// by [`generate_secret`], so a stored secret that fails here is a bug).
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
        .filter(|key| !key.is_empty())
}

/// The `webhook-signature` header value for `body` sent as `id` at `timestamp`,
/// signed with each of `secrets` in turn (current first).
pub fn sign(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    secrets
        .iter()
        .filter_map(|secret| {
            let key = key_of(secret)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(&content);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed vector computed independently (Python's `hmac` and `base64`
    /// modules, following the specification's algorithm).
    #[test]
    fn signs_like_the_specification_says() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_and_new_secrets_differ() {
        let (new, old) = (generate_secret(), generate_secret());
        assert_ne!(new, old);
        assert!(new.starts_with(SECRET_PREFIX));
        assert_eq!(key_of(&new).map(|k| k.len()), Some(32));
        let both = sign(&[&new, &old], "msg_1", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&[&new], "msg_1", 1, b"{}"));
        assert_eq!(parts[1], sign(&[&old], "msg_1", 1, b"{}"));
    }
}
