//! Keeping webhooks from reaching into the network embhub runs in (SSRF).
//!
//! An endpoint URL is client input that makes the server send requests, so in
//! production it must be https and must not lead to loopback, private, link-local,
//! shared (CGNAT), multicast, reserved or cloud metadata addresses. The URL is
//! checked when it is saved (a clear BAD_USER_INPUT for its owner) and again at
//! every delivery, because DNS can change after the check: deliveries resolve the
//! name through [`GuardedResolver`], which checks every address it returns, and the
//! HTTP client connects only to those addresses, so a name that re-resolves to an
//! internal address between check and connect (DNS rebinding) gains nothing.
//! Outside production (or with `EMBHUB_WEBHOOKS_ALLOW_PRIVATE`) plain http and
//! internal addresses are allowed, for a developer's local receiver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest a URL may be.
const URL_MAX: usize = 2048;
/// Longest the check of a URL at creation waits for DNS.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which webhook URLs are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    /// https only, and only to public addresses.
    strict: bool,
}

impl Default for UrlPolicy {
    /// Strict: the safe choice when nothing was configured.
    fn default() -> Self {
        Self { strict: true }
    }
}

impl UrlPolicy {
    /// Strict in production unless internal targets are explicitly allowed.
    pub fn new(production: bool, allow_private: bool) -> Self {
        Self {
            strict: production && !allow_private,
        }
    }

    /// Whether only https URLs to public addresses are allowed.
    pub fn is_strict(self) -> bool {
        self.strict
    }

    /// Parses `raw` and checks everything but DNS; the message says what is wrong.
    pub fn parse(self, raw: &str) -> Result<Url, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("give the URL deliveries are POSTed to".into());
        }
        if raw.len() > URL_MAX {
            return Err(format!("must be at most {URL_MAX} characters"));
        }
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if !self.strict => {}
            "http" => return Err("must use https".into()),
            _ => return Err("must be an https URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials (user:password@)".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment (#…)".into());
        }
        self.check_host(&url)?;
        Ok(url)
    }

    /// The checks of [`parse`](Self::parse) that need no DNS, on an already parsed
    /// URL (a stored one, at delivery: the policy may have changed since).
    pub fn check_host(self, url: &Url) -> Result<(), String> {
        if !self.strict {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err("must use https".into());
        }
        let Some(host) = url.host_str() else {
            return Err("must name a host".into());
        };
        // The parser has already normalized other spellings of an IPv4 address
        // (`2130706433`, `0x7f.1`) to dotted decimal; IPv6 comes in brackets.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return refuse_ip(ip);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(format!("must not point at {LOOPBACK}"));
        }
        Ok(())
    }

    /// [`parse`](Self::parse), then, when strict, resolves the host and refuses it
    /// if any of its addresses is internal (or it does not resolve at all).
    pub async fn check(self, raw: &str) -> Result<Url, String> {
        let url = self.parse(raw)?;
        let domain = url
            .host_str()
            .filter(|host| !host.starts_with('[') && host.parse::<IpAddr>().is_err());
        if let (true, Some(name)) = (self.strict, domain) {
            let port = url.port_or_known_default().unwrap_or(443);
            match tokio::time::timeout(RESOLVE_TIMEOUT, resolve_checked(name, port)).await {
                Ok(Ok(_)) => {}
                Ok(Err(refused)) => return Err(refused),
                Err(_) => return Err("the host does not resolve (DNS timed out)".into()),
            }
        }
        Ok(url)
    }
}

const LOOPBACK: &str = "a loopback address";

/// Why `ip` may not be a webhook target, or `None` when it is a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn refuse_ip(ip: IpAddr) -> Result<(), String> {
    match forbidden(ip) {
        Some(what) => Err(format!("must not point at {what}")),
        None => Ok(()),
    }
}

/// Whether `ip` lies in `network`/`prefix`.
fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

/// IPv4 ranges that are not the public internet (IANA special-purpose registry).
const V4_RANGES: &[([u8; 4], u32, &str)] = &[
    ([0, 0, 0, 0], 8, "an unspecified address"),
    ([10, 0, 0, 0], 8, "a private address"),
    ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
    ([127, 0, 0, 0], 8, LOOPBACK),
    // Includes the cloud metadata service at 169.254.169.254.
    ([169, 254, 0, 0], 16, "a link-local or metadata address"),
    ([172, 16, 0, 0], 12, "a private address"),
    // Includes 192.0.0.192, a metadata address on some clouds.
    ([192, 0, 0, 0], 24, "a reserved address"),
    ([192, 0, 2, 0], 24, "a documentation address"),
    ([192, 88, 99, 0], 24, "a reserved address"),
    ([192, 168, 0, 0], 16, "a private address"),
    ([198, 18, 0, 0], 15, "a benchmarking address"),
    ([198, 51, 100, 0], 24, "a documentation address"),
    ([203, 0, 113, 0], 24, "a documentation address"),
    ([224, 0, 0, 0], 4, "a multicast address"),
    // Includes the broadcast address 255.255.255.255.
    ([240, 0, 0, 0], 4, "a reserved address"),
];

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_RANGES
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
        .map(|(_, _, what)| *what)
}

fn in_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(network) & mask
}

/// The IPv4 address in the low 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let v6 = |text: &str| text.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some(LOOPBACK);
    }
    // Addresses that carry an IPv4 address reach it: judge that one.
    if in_v6(ip, v6("::ffff:0:0"), 96) || in_v6(ip, v6("64:ff9b::"), 96) {
        return forbidden_v4(low_v4(ip));
    }
    if in_v6(ip, v6("2002::"), 16) {
        let embedded = ((u128::from(ip) >> 80) & 0xffff_ffff) as u32;
        return forbidden_v4(Ipv4Addr::from(embedded));
    }
    const RANGES: &[(&str, u32, &str)] = &[
        // IPv4-compatible (deprecated).
        ("::", 96, "a reserved address"),
        ("64:ff9b:1::", 48, "a private address"),
        ("100::", 64, "a reserved address"),
        // Teredo tunnels hide the IPv4 address they reach.
        ("2001::", 32, "a reserved address"),
        ("2001:db8::", 32, "a documentation address"),
        // Unique local addresses, including the metadata service at fd00:ec2::254.
        ("fc00::", 7, "a private (unique local) or metadata address"),
        ("fe80::", 10, "a link-local address"),
        ("fec0::", 10, "a reserved address"),
        ("ff00::", 8, "a multicast address"),
    ];
    RANGES
        .iter()
        .find(|(network, prefix, _)| in_v6(ip, v6(network), *prefix))
        .map(|(_, _, what)| *what)
}

/// Resolves `host` and returns its addresses if every one of them is public.
async fn resolve_checked(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| "the host does not resolve".to_owned())?
        .collect();
    if addresses.is_empty() {
        return Err("the host does not resolve".into());
    }
    for address in &addresses {
        if let Some(what) = forbidden(address.ip()) {
            return Err(format!("the host resolves to {what}"));
        }
    }
    Ok(addresses)
}

/// The HTTP client's resolver for deliveries: in strict mode it refuses names that
/// resolve to any internal address, so the client can only connect to addresses
/// checked here.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub policy: UrlPolicy,
}

/// A refused or failed resolution, as the delivery's `lastError` shows it.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let strict = self.policy.is_strict();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses = if strict {
                resolve_checked(&host, 0).await.map_err(Refused)?
            } else {
                tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|_| Refused("the host does not resolve".into()))?
                    .collect()
            };
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_and_metadata_addresses_are_refused() {
        for internal in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(
                forbidden(ip(internal)).is_some(),
                "{internal} must be refused"
            );
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::",
        ] {
            assert_eq!(forbidden(ip(public)), None, "{public} is public");
        }
    }

    /// The delivery-time check: a name that resolves to an internal address is
    /// refused by the resolver the HTTP client connects through (here `localhost`,
    /// from the hosts file, standing for any rebinding name).
    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_inside() {
        let strict = GuardedResolver {
            policy: UrlPolicy::new(true, false),
        };
        let name: Name = "localhost".parse().unwrap();
        let refused = strict.resolve(name).await.err().expect("refused");
        assert!(refused.to_string().contains(LOOPBACK), "{refused}");
        let relaxed = GuardedResolver {
            policy: UrlPolicy::new(false, false),
        };
        let addresses: Vec<SocketAddr> = relaxed
            .resolve("localhost".parse().unwrap())
            .await
            .map_err(|e| e.to_string())
            .expect("allowed outside production")
            .collect();
        assert!(addresses.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn strict_urls_need_https_and_a_public_host() {
        let strict = UrlPolicy::new(true, false);
        assert!(strict.parse("https://example.com/hooks").is_ok());
        for (url, why) in [
            ("http://example.com/hooks", "https"),
            ("https://127.0.0.1/hooks", "loopback"),
            ("https://169.254.169.254/latest", "metadata"),
            ("https://[::1]:8443/", "loopback"),
            ("https://[fd00:ec2::254]/", "metadata"),
            // Other spellings of 127.0.0.1 are normalized by the URL parser.
            ("https://2130706433/", "loopback"),
            ("https://0x7f.1/", "loopback"),
            ("https://localhost/", "loopback"),
            ("https://hooks.localhost./", "loopback"),
            ("https://user:pw@example.com/", "credentials"),
            ("ftp://example.com/", "https"),
            ("not a url", "valid URL"),
        ] {
            let refused = strict.parse(url).expect_err(url);
            assert!(refused.contains(why), "{url}: {refused}");
        }
        let relaxed = UrlPolicy::new(false, false);
        assert!(relaxed.parse("http://127.0.0.1:9000/hooks").is_ok());
        assert!(UrlPolicy::new(true, true).parse("http://10.0.0.2/").is_ok());
    }
}
