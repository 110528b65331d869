//! Settings for people and browsers: the origins a browser console may call from
//! (CORS) and the OpenID Connect issuers whose people may sign in.

use clap::Args;

/// Flags and variables for consoles in browsers.
#[derive(Debug, Clone, Args)]
pub struct PeopleArgs {
    /// Origins (scheme://host[:port], exact) whose browser pages may call `/graphql`,
    /// comma-separated, e.g. `https://console.example.org,http://localhost:5173`.
    /// None by default: no CORS headers at all.
    #[arg(long, env = "EMBHUB_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// JSON file listing the OpenID Connect issuers whose people may sign in (see
    /// the README's "People: sign-in through your identity provider").
    #[arg(long, env = "EMBHUB_OIDC_ISSUERS_FILE")]
    pub oidc_issuers_file: Option<std::path::PathBuf>,
}

/// Checked settings for people and browsers.
#[derive(Debug, Clone, Default)]
pub struct PeopleSettings {
    /// Exact origins answered with CORS headers (each checked by [`parse_origin`]).
    pub cors_origins: Vec<String>,
    /// Trusted OpenID Connect issuers.
    pub oidc_issuers: Vec<crate::auth::oidc::IssuerConfig>,
}

impl PeopleArgs {
    /// Checks every origin and reads the issuers file.
    pub fn resolve(&self) -> anyhow::Result<PeopleSettings> {
        let mut cors_origins = Vec::new();
        for raw in &self.cors_origins {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let origin = parse_origin(raw)?;
            if !cors_origins.contains(&origin) {
                cors_origins.push(origin);
            }
        }
        let oidc_issuers = match &self.oidc_issuers_file {
            Some(path) => crate::auth::oidc::IssuerConfig::load_file(path)?,
            None => Vec::new(),
        };
        Ok(PeopleSettings {
            cors_origins,
            oidc_issuers,
        })
    }
}

/// An origin as browsers send it in `Origin`: `scheme://host[:port]`, lower-case
/// scheme and host, no path, no trailing slash. A wildcard is refused: consoles
/// send bearer tokens, and the operator should name who may.
pub fn parse_origin(raw: &str) -> anyhow::Result<String> {
    let bad = |why: &str| {
        anyhow::anyhow!(
            "EMBHUB_CORS_ORIGINS: {raw:?} is not an origin ({why}); give exact origins such as https://console.example.org or http://localhost:5173"
        )
    };
    if raw == "*" || raw.contains('*') {
        return Err(bad("wildcards are not allowed"));
    }
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if rest.is_empty() {
        return Err(bad("no host"));
    }
    if rest.contains(['/', '?', '#', '@']) || rest.chars().any(|c| c.is_whitespace()) {
        return Err(bad(
            "only scheme, host and port; no path, query, user or trailing slash",
        ));
    }
    let host = match rest.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty()
                || !port.chars().all(|c| c.is_ascii_digit())
                || port.parse::<u16>().is_err()
            {
                return Err(bad("the port must be a number"));
            }
            host
        }
        _ => rest,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_exact_scheme_host_and_port() {
        assert_eq!(
            parse_origin("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(
            parse_origin("HTTPS://Console.Example.org").unwrap(),
            "https://console.example.org"
        );
        assert_eq!(
            parse_origin("http://[::1]:8080").unwrap(),
            "http://[::1]:8080"
        );
        for bad in [
            "*",
            "https://*.example.org",
            "localhost:5173",
            "ftp://example.org",
            "https://example.org/",
            "https://example.org/console",
            "https://",
            "https://example.org:port",
            "https://user@example.org",
        ] {
            let err = parse_origin(bad).unwrap_err().to_string();
            assert!(err.contains("EMBHUB_CORS_ORIGINS"), "{bad}: {err}");
        }
    }
}
