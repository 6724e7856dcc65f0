//! The OpenAPI document describes exactly the router's routes, the docs page loads nothing
//! from elsewhere, and every error, unknown routes and methods included, is the JSON body.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use recd_serve::ServeConfig;
use serde_json::Value;

use crate::support::{check_error, server};

/// The methods probed on every path.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

#[tokio::test]
async fn openapi_json_is_3_1_and_documents_every_route_and_method() {
    let s = server(ServeConfig::default());
    let (status, spec) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let version = spec["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi {version:?}");
    assert_eq!(spec, serde_json::to_value(recd_serve::openapi()).unwrap());

    let paths = spec["paths"].as_object().expect("paths");
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let routed: BTreeSet<&str> = recd_serve::route_paths().into_iter().collect();
    assert_eq!(routed, documented, "routes vs documented paths");

    // Each method the router answers (anything but 405) is documented, and only those.
    for path in routed {
        let uri = path.replace("{id}", "x");
        for method in METHODS {
            let (status, body) = s.call(method.clone(), &uri, Body::empty()).await;
            let name = method.as_str().to_lowercase();
            let is_documented = paths[path].get(&name).is_some();
            assert_eq!(
                status != StatusCode::METHOD_NOT_ALLOWED,
                is_documented,
                "{method} {path}: {status} {body}"
            );
            if is_documented {
                check_operation(&spec, path, &name);
            }
        }
    }
}

/// An operation has an id, a summary and, on every error status, the error body (`/readyz`
/// answers its report either way).
fn check_operation(spec: &Value, path: &str, method: &str) {
    let op = &spec["paths"][path][method];
    assert!(op["operationId"].is_string(), "{method} {path}: {op}");
    assert!(op["summary"].is_string(), "{method} {path}: {op}");
    let responses = op["responses"].as_object().expect("responses");
    assert!(
        responses.keys().any(|s| s.starts_with('2')),
        "{method} {path}"
    );
    for (status, response) in responses {
        let schema = &response["content"]["application/json"]["schema"]["$ref"];
        if !status.starts_with('2') && path != "/readyz" {
            assert_eq!(
                schema, "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_json_error_body() {
    let s = server(ServeConfig::default());
    check_error(
        s.get("/v2/nothing").await,
        StatusCode::NOT_FOUND,
        "no_such_route",
        None,
        None,
    );
    // A trailing slash is another path.
    check_error(
        s.get("/v1/items/").await,
        StatusCode::NOT_FOUND,
        "no_such_route",
        None,
        None,
    );
    let (status, headers, body) = s
        .call_with_headers(Method::PATCH, "/v1/items/i1", Body::empty())
        .await;
    check_error(
        (status, body),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
        None,
    );
    let allow = headers[header::ALLOW].to_str().unwrap();
    for method in ["GET", "PUT", "DELETE"] {
        assert!(allow.contains(method), "Allow: {allow}");
    }
    check_error(
        s.call(Method::POST, "/healthz", Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
        None,
    );
    // A path segment that is not UTF-8 once decoded: axum's rejection, as JSON.
    check_error(
        s.get("/v1/items/%FF").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        None,
        None,
    );
}

#[tokio::test]
async fn the_docs_page_is_self_contained() {
    let s = server(ServeConfig::default());
    let (status, headers, page) = s
        .call_with_headers(Method::GET, "/docs", Body::empty())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let page = page.as_str().expect("HTML, not JSON");
    assert!(page.contains("fetch(\"openapi.json\")"), "renders the spec");
    for outside in [
        "http://",
        "https://",
        "//cdn",
        "<script src",
        "<link",
        "@import",
    ] {
        assert!(!page.contains(outside), "the page names {outside:?}");
    }
}

/// The limits the document states by hand are the domain's (`recd-types`): a change there
/// must change the document too.
#[test]
fn the_documented_rules_are_the_domains() {
    let spec = serde_json::to_value(recd_serve::openapi()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let kinds: Vec<&str> = recd_types::EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let documented: Vec<&str> = schemas["EventType"]["enum"]
        .as_array()
        .expect("EventType is an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(documented, kinds);
    let value = &schemas["EventIn"]["properties"]["value"];
    assert_eq!(value["minimum"], f64::from(recd_types::RATING_MIN));
    assert_eq!(value["maximum"], f64::from(recd_types::RATING_MAX));
    let user_id = &schemas["EventIn"]["properties"]["user_id"];
    assert_eq!(user_id["maxLength"], recd_types::MAX_ID_BYTES);
    for (path, item) in spec["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            let params = op["parameters"].as_array().into_iter().flatten();
            for p in params.filter(|p| p["name"] == "id" || p["name"] == "user_id") {
                let schema = &p["schema"];
                assert_eq!(schema["maxLength"], recd_types::MAX_ID_BYTES, "{path}");
                assert_eq!(schema["minLength"], 1, "{path}");
                assert!(schema["pattern"].is_string(), "{path}");
            }
        }
    }
}
