//! Per-client token buckets (GCRA, from `governor`): each client has its own
//! bucket, so a noisy partner uses up only its own budget and never slows the
//! others. A query costs 1 token, a mutation `EMBHUB_RATE_LIMIT_MUTATION_COST`.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::RateLimits;

/// A keyed bucket set that forgets idle keys once it holds many, so a stream of new
/// keys (addresses) cannot grow it without bound.
struct Buckets<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes `cost` tokens from `key`'s bucket, or says how long until it could.
    fn take(&self, key: &K, cost: NonZeroU32) -> Result<(), Duration> {
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key_n(key, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            // More than the bucket can ever hold; settings forbid it, so wait a minute.
            Err(_) => Err(Duration::from_secs(60)),
        }
    }
}

/// Whole seconds to wait, at least 1 (for `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// The GraphQL budget of each API client.
pub struct ClientRateLimiter {
    buckets: Buckets<Uuid>,
    mutation_cost: NonZeroU32,
}

impl ClientRateLimiter {
    pub fn new(limits: &RateLimits) -> Self {
        let per_minute = NonZeroU32::new(limits.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst).unwrap_or(NonZeroU32::MIN);
        Self {
            buckets: Buckets::new(Quota::per_minute(per_minute).allow_burst(burst)),
            mutation_cost: NonZeroU32::new(limits.mutation_cost).unwrap_or(NonZeroU32::MIN),
        }
    }

    /// Charges one operation to `client`; `Err` holds the seconds until it may retry.
    pub fn charge(&self, client: Uuid, is_mutation: bool) -> Result<(), u64> {
        let cost = if is_mutation {
            self.mutation_cost
        } else {
            NonZeroU32::MIN
        };
        self.buckets.take(&client, cost).map_err(retry_after_secs)
    }
}

/// Token-endpoint attempts per source address (IPv6 by /64, which one host
/// usually holds whole, so rotating addresses inside it does not help).
pub struct IpThrottle {
    buckets: Option<Buckets<IpAddr>>,
}

impl IpThrottle {
    /// `per_minute` attempts from one address, all available at once; 0 turns it off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            buckets: NonZeroU32::new(per_minute).map(|n| Buckets::new(Quota::per_minute(n))),
        }
    }

    /// `Err` holds the seconds until `ip` may try again.
    pub fn allow(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        let key = match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    IpAddr::from(octets)
                }
            },
        };
        buckets
            .take(&key, NonZeroU32::MIN)
            .map_err(retry_after_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32) -> RateLimits {
        RateLimits {
            per_minute: 1,
            burst,
            mutation_cost: 3,
            token_per_client_per_minute: 1,
            token_per_ip_per_minute: 1,
        }
    }

    #[test]
    fn mutations_cost_more_and_clients_have_their_own_buckets() {
        let limiter = ClientRateLimiter::new(&limits(4));
        let (noisy, quiet) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(limiter.charge(noisy, true).is_ok()); // 3 of 4
        assert!(limiter.charge(noisy, true).is_err()); // needs 3, has 1
        assert!(limiter.charge(noisy, false).is_ok()); // the last one
        let wait = limiter.charge(noisy, false).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limiter.charge(quiet, true).is_ok());
    }

    #[test]
    fn ipv6_addresses_share_their_64_prefix() {
        let throttle = IpThrottle::new(1);
        assert!(throttle.allow("2001:db8::1".parse().unwrap()).is_ok());
        assert!(throttle.allow("2001:db8::2".parse().unwrap()).is_err());
        assert!(throttle.allow("2001:db9::1".parse().unwrap()).is_ok());
        assert!(
            IpThrottle::new(0)
                .allow("127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
