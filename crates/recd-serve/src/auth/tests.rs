use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;

use super::*;
use crate::ServeConfig;
use keys::KeysFile;

fn with_keys(keys: &[(&str, &str, &[Scope])]) -> ServeConfig {
    let mut config = ServeConfig::default();
    config.auth.keys = keys
        .iter()
        .map(|(id, key, scopes)| KeyEntry {
            id: id.to_string(),
            sha256: keys::hash(key),
            scopes: scopes.to_vec(),
            created: None,
        })
        .collect();
    config
}

fn bearer(key: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    h
}

fn status(r: Result<Caller, ApiError>) -> StatusCode {
    match r {
        Ok(_) => StatusCode::OK,
        Err(e) => e.into_response().status(),
    }
}

const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

#[test]
fn with_keys_every_scoped_route_needs_a_key_with_its_scope() {
    let s = Security::new(
        &with_keys(&[("r", "rk", &[Scope::Read]), ("a", "ak", &[Scope::Admin])]),
        None,
    )
    .unwrap();
    assert!(s.enabled());
    let none = HeaderMap::new();
    let read = Access::Scoped(Scope::Read);
    let ingest = Access::Scoped(Scope::Ingest);
    assert_eq!(
        status(s.check(read, LOCAL, &none)),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(s.check(read, LOCAL, &bearer("nope"))),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(s.check(read, LOCAL, &bearer("rk"))), StatusCode::OK);
    assert_eq!(
        status(s.check(ingest, LOCAL, &bearer("rk"))),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(s.check(ingest, LOCAL, &bearer("ak"))),
        StatusCode::OK
    );
    let mut x = HeaderMap::new();
    x.insert("x-api-key", HeaderValue::from_static("rk"));
    assert_eq!(
        s.check(read, None, &x).unwrap().key_id.as_deref(),
        Some("r")
    );
    // Probes and public routes need nothing; metrics are open unless protected.
    for open in [Access::Probe, Access::Public, Access::Metrics] {
        assert_eq!(status(s.check(open, None, &none)), StatusCode::OK);
    }
    let mut protected = with_keys(&[("r", "rk", &[Scope::Read])]);
    protected.auth.protect_metrics = true;
    let p = Security::new(&protected, None).unwrap();
    assert_eq!(
        status(p.check(Access::Metrics, LOCAL, &bearer("rk"))),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn without_keys_only_admin_routes_are_guarded_and_only_by_loopback() {
    let s = Security::new(&ServeConfig::default(), None).unwrap();
    assert!(!s.enabled());
    let none = HeaderMap::new();
    let far: Option<IpAddr> = Some("10.1.2.3".parse().unwrap());
    let admin = Access::Scoped(Scope::Admin);
    assert_eq!(
        status(s.check(Access::Scoped(Scope::Ingest), far, &none)),
        StatusCode::OK
    );
    assert_eq!(status(s.check(admin, far, &none)), StatusCode::FORBIDDEN);
    assert_eq!(status(s.check(admin, None, &none)), StatusCode::FORBIDDEN);
    assert_eq!(status(s.check(admin, LOCAL, &none)), StatusCode::OK);
    let v6: Option<IpAddr> = Some("::1".parse().unwrap());
    assert_eq!(status(s.check(admin, v6, &none)), StatusCode::OK);
}

#[test]
fn the_client_address_comes_from_forwarded_for_only_behind_trusted_proxies() {
    let config = ServeConfig {
        trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.0/8".into()],
        ..Default::default()
    };
    let s = Security::new(&config, None).unwrap();
    let mut h = HeaderMap::new();
    h.append(
        "x-forwarded-for",
        HeaderValue::from_static("1.2.3.4, 10.0.0.7"),
    );
    let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    // Through two trusted hops: the first untrusted address from the right.
    assert_eq!(s.client_address(LOCAL, &h), ip("1.2.3.4"));
    // An untrusted peer's header is not believed.
    assert_eq!(s.client_address(ip("8.8.8.8"), &h), ip("8.8.8.8"));
    // A spoofed leftmost entry does not help: the rightmost untrusted one wins.
    let mut spoof = HeaderMap::new();
    spoof.append(
        "x-forwarded-for",
        HeaderValue::from_static("127.0.0.1, 5.6.7.8"),
    );
    assert_eq!(s.client_address(LOCAL, &spoof), ip("5.6.7.8"));
    // So a remote client cannot pass the loopback rule of admin routes through a proxy.
    let admin = Access::Scoped(Scope::Admin);
    assert_eq!(status(s.check(admin, LOCAL, &spoof)), StatusCode::FORBIDDEN);
    let bad = Security::new(
        &ServeConfig {
            trusted_proxies: vec!["not-an-ip".into()],
            ..Default::default()
        },
        None,
    );
    assert!(matches!(bad, Err(SecurityError::Proxy(_))));
}

#[test]
fn over_a_limit_is_429_per_caller() {
    let mut config = with_keys(&[("a", "ak", &[Scope::Read]), ("b", "bk", &[Scope::Read])]);
    config.rate_limit.read_per_sec = 1;
    let s = Security::new(&config, None).unwrap();
    let read = Access::Scoped(Scope::Read);
    assert_eq!(status(s.check(read, LOCAL, &bearer("ak"))), StatusCode::OK);
    let e = s
        .check(read, LOCAL, &bearer("ak"))
        .unwrap_err()
        .into_response();
    assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(e.headers().contains_key("retry-after"));
    assert_eq!(status(s.check(read, LOCAL, &bearer("bk"))), StatusCode::OK);
    // Probes are never limited.
    for _ in 0..10 {
        assert_eq!(
            status(s.check(Access::Probe, LOCAL, &HeaderMap::new())),
            StatusCode::OK
        );
    }
}

#[test]
fn the_keys_file_is_reloaded_when_it_changes_and_auth_never_turns_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    let s = Security::new(
        &ServeConfig::default(),
        Some(Arc::new(store::FileKeys::new(path.clone()))),
    )
    .unwrap();
    assert!(!s.enabled());
    let entry = |id: &str, key: &str| KeyEntry {
        id: id.into(),
        sha256: keys::hash(key),
        scopes: vec![Scope::Read],
        created: None,
    };
    KeysFile {
        keys: vec![entry("one", "k1"), entry("two", "k2")],
    }
    .write(&path)
    .unwrap();
    assert!(s.reload().unwrap());
    assert!(s.enabled());
    let read = Access::Scoped(Scope::Read);
    assert_eq!(status(s.check(read, LOCAL, &bearer("k2"))), StatusCode::OK);
    // Revoke "two": its key stops working, "one" goes on.
    KeysFile {
        keys: vec![entry("one", "k1")],
    }
    .write(&path)
    .unwrap();
    assert!(s.reload().unwrap());
    assert!(!s.reload().unwrap(), "unchanged file");
    assert_eq!(
        status(s.check(read, LOCAL, &bearer("k2"))),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(s.check(read, LOCAL, &bearer("k1"))), StatusCode::OK);
    // A broken file keeps the previous keys.
    std::fs::write(&path, "not toml [").unwrap();
    assert!(s.reload().is_err());
    assert_eq!(status(s.check(read, LOCAL, &bearer("k1"))), StatusCode::OK);
    // Every key revoked: still on, everything refused.
    KeysFile::default().write(&path).unwrap();
    s.reload().unwrap();
    assert!(s.enabled());
    assert_eq!(
        status(s.check(read, LOCAL, &HeaderMap::new())),
        StatusCode::UNAUTHORIZED
    );
}
