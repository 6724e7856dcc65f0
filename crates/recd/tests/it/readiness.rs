//! Truthful readiness: dependencies in the body, strict mode, a Redis outage named.

use recd_features::testing::RedisServer;

use crate::util::Server;

#[test]
fn readyz_names_every_dependency_and_strict_mode_fails_without_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    let deps = &body["dependencies"];
    for name in ["log", "feature_store", "updater", "model"] {
        assert!(deps[name]["up"].is_boolean(), "{name} missing: {body}");
    }
    assert_eq!(deps["feature_store"]["detail"], "embedded", "{body}");
    assert_eq!(deps["model"]["up"], false, "{body}");
    // No model: ready (the popular fallback answers), but not strictly.
    let (status, body) = server.get("/readyz?strict=true");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let (status, body) = server.get("/readyz?strict=maybe");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "strict", "{body}");
    server.stop();
}

#[test]
fn while_redis_is_down_readyz_names_it_and_strict_readiness_is_503() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let server = Server::start(&dir.path().join("data"), &["--feature-store", &url]);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dependencies"]["feature_store"]["up"], true, "{body}");

    redis.stop();
    let (status, body) = server.get("/readyz");
    // A shared dependency down does not pull the instance out of a load balancer...
    assert_eq!(status, 200, "{body}");
    let fs = &body["dependencies"]["feature_store"];
    assert_eq!(fs["up"], false, "{body}");
    assert_eq!(fs["detail"], "redis", "{body}");
    assert!(
        fs["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    // ...unless strict readiness is asked for.
    let (status, body) = server.get("/readyz?strict=true");
    assert_eq!(status, 503, "{body}");
    // /healthz is liveness only.
    assert_eq!(server.get("/healthz").0, 200);

    redis.restart();
    server.wait_until(
        || server.get("/readyz").1["dependencies"]["feature_store"]["up"] == true,
        "feature store up again",
    );
    server.stop();
}
