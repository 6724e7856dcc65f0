//! Rate limits: one keyed GCRA limiter (`governor`) per scope, keyed by caller, and one per
//! client address. A limit of 0 has no limiter at all, so an unlimited route costs nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::config::RateLimitConfig;
use super::keys::Scope;

/// Which limit a request went over (the `limit` label of `recd_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The caller's limit for the route's scope.
    Scope(Scope),
    /// The client address's limit.
    Address,
}

impl Which {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Which::Scope(s) => s.as_str(),
            Which::Address => "address",
        }
    }
}

/// The limiters of a server.
pub struct Limits {
    by_scope: [Option<DefaultKeyedRateLimiter<String>>; 3],
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_sec: u32,
    burst_secs: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(per_sec.saturating_mul(burst_secs.max(1))).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl Limits {
    /// The limiters `config` asks for, as this process's share when `share` processes enforce
    /// them together: each rate divided by `share`, rounded up (a limit never becomes none).
    pub fn new(config: &RateLimitConfig, share: usize) -> Self {
        let share = u32::try_from(share.max(1)).unwrap_or(u32::MAX);
        let part = |rate: u32| rate.div_ceil(share);
        Self {
            by_scope: Scope::ALL.map(|s| limiter(part(config.per_sec(s)), config.burst_secs)),
            by_address: limiter(part(config.per_address_per_sec), config.burst_secs),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request from `address`; `Err(wait)` when it is over the address limit.
    pub fn check_address(&self, address: IpAddr) -> Result<(), (Which, Duration)> {
        match &self.by_address {
            Some(l) => l
                .check_key(&address)
                .map_err(|n| (Which::Address, n.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    /// Counts one request of `caller` on a route of `scope`; `Err(wait)` when over.
    pub fn check_scope(&self, scope: Scope, caller: &str) -> Result<(), (Which, Duration)> {
        let Some(l) = &self.by_scope[scope as usize] else {
            return Ok(());
        };
        l.check_key(&caller.to_string())
            .map_err(|n| (Which::Scope(scope), n.wait_time_from(self.clock.now())))
    }

    /// Forgets callers whose state is back to full (what keeps the maps from growing with
    /// every address ever seen); returns how many remain.
    pub fn upkeep(&self) -> usize {
        let mut remaining = 0;
        for l in self.by_scope.iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
            remaining += l.len();
        }
        if let Some(l) = &self.by_address {
            l.retain_recent();
            l.shrink_to_fit();
            remaining += l.len();
        }
        remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_over_its_scope_limit_waits_and_others_do_not() {
        let limits = Limits::new(
            &RateLimitConfig {
                read_per_sec: 2,
                ..Default::default()
            },
            1,
        );
        assert!(limits.check_scope(Scope::Read, "a").is_ok());
        assert!(limits.check_scope(Scope::Read, "a").is_ok());
        let (which, wait) = limits.check_scope(Scope::Read, "a").unwrap_err();
        assert_eq!(which, Which::Scope(Scope::Read));
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limits.check_scope(Scope::Read, "b").is_ok());
        // No ingest limit configured: never refused.
        for _ in 0..100 {
            assert!(limits.check_scope(Scope::Ingest, "a").is_ok());
        }
        assert!(limits.check_address("10.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_address_limit_counts_every_request_of_an_address() {
        let limits = Limits::new(
            &RateLimitConfig {
                per_address_per_sec: 3,
                burst_secs: 2,
                ..Default::default()
            },
            1,
        );
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..6 {
            assert!(limits.check_address(a).is_ok());
        }
        assert_eq!(limits.check_address(a).unwrap_err().0, Which::Address);
        assert!(limits.check_address("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn a_process_of_a_fleet_enforces_its_share_and_a_limit_never_vanishes() {
        let config = RateLimitConfig {
            per_address_per_sec: 10,
            read_per_sec: 1,
            burst_secs: 1,
            ..Default::default()
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let limits = Limits::new(&config, 2);
        let allowed = (0..20).filter(|_| limits.check_address(a).is_ok()).count();
        assert_eq!(allowed, 5, "half of 10 per second");
        // 1 per second over 3 processes is still 1 each, not 0 (no limit).
        let limits = Limits::new(&config, 3);
        assert!(limits.check_scope(Scope::Read, "k").is_ok());
        assert!(limits.check_scope(Scope::Read, "k").is_err());
    }
}
