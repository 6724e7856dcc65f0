//! The OpenAPI 3.1 document of the HTTP API.
//!
//! Assembled from the handlers' `#[utoipa::path]` attributes (routes, parameters, every status
//! a handler can answer) and the `ToSchema` derives of `recd-api` (the bodies), so the
//! published contract is the code's. Every route of the table in `routes/mod.rs` must be
//! listed in `paths(...)` below: a test compares the two.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::auth::Access;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// The rules of a path's `{id}`, shared by every route that takes one.
pub(crate) const ID_DOC: &str = "External id: 1 to 256 bytes of UTF-8, no control or invisible \
    characters (zero-width, bidirectional controls), no leading or trailing whitespace, no `/` or \
    `\\`, not `.` or `..`. Percent-encode it in the path.";

/// The id rules as a pattern: not `.` or `..`; no control character (Unicode `Cc`), invisible
/// character, `/` or `\`; no whitespace at either end. Its length limit counts characters
/// where the server counts UTF-8 bytes, so an id of 256 characters can still be refused as too
/// long.
const ID_PATTERN: &str = concat!(
    r"^(?!\.{1,2}$)",
    r"[^\s\x00-\x1f\x7f-\x9f/\\\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]",
    r"(?:[^\x00-\x1f\x7f-\x9f/\\\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]*",
    r"[^\s\x00-\x1f\x7f-\x9f/\\\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF])?$"
);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "recd",
        description = "The recd recommendation engine's HTTP API: events and catalog in, \
            ranked and explained lists out.\n\nEvery error answers with the JSON body \
            `ErrorBody`: a stable machine `code`, a `message` for people and, when one is to \
            blame, the `field` (and the batch `index`). Unknown paths answer 404 \
            `no_such_route`, known paths asked with another method 405 `method_not_allowed` \
            (with `Allow`). Times are integer milliseconds since the Unix epoch.\n\n\
            Once API keys are configured, every route but the probes, `/metrics` and this \
            document needs a key (`Authorization: Bearer <key>` or `X-API-Key: <key>`) with \
            the route's scope: `read`, `ingest` or `admin` (which includes the others).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::events::post,
        super::items::list,
        super::items::get,
        super::items::put,
        super::items::delete,
        super::features::item,
        super::similar::get,
        super::recommendations::get,
        super::users::get,
        super::users::put,
        super::users::delete,
        super::features::user,
        super::features::trending,
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::docs::openapi_json,
        super::docs::page,
        super::dashboard::page,
        super::dashboard::root,
        super::admin::jobs::train,
        super::admin::jobs::list,
        super::admin::jobs::cancel,
        super::admin::models::list,
        super::admin::users::get,
        super::admin::log::compact,
        super::admin::experiments::list,
        super::admin::experiments::get,
        super::admin::experiments::put,
        super::admin::experiments::report,
    ),
    tags(
        (name = "events", description = "Interactions in: views, clicks, purchases, ratings, searches."),
        (name = "catalog", description = "Items: what can be recommended."),
        (name = "users", description = "User profiles: demographics and declared interests."),
        (name = "recommendations", description = "Ranked, explained lists."),
        (name = "features", description = "Real-time features, as the streaming updater keeps them."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
        (name = "admin", description = "Operators: training jobs, the model registry, experiment reports and log compaction. The admin scope; while no API keys are configured, loopback only."),
    )
)]
struct ApiDoc;

/// The path of the alias and of the route it repeats.
const ALIAS: (&str, &str) = ("/recommendations", "/v1/recommendations");

/// The document: the derived one, with the id rules on every `{id}` and `user_id` parameter
/// (stated once here rather than in each handler's attribute), plus `GET /recommendations`, an alias of
/// `GET /v1/recommendations` (one handler cannot carry two `#[utoipa::path]`s).
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        ops.into_iter().flatten().for_each(id_rules);
    }
    security(&mut doc);
    if let Some(mut item) = doc.paths.paths.get(ALIAS.1).cloned() {
        if let Some(op) = item.get.as_mut() {
            op.operation_id = Some("get_recommendations_alias".into());
            op.summary = Some(format!("Alias of `GET {}`.", ALIAS.1));
        }
        doc.paths.paths.insert(ALIAS.0.to_string(), item);
    }
    doc
}

/// The security schemes, and on each operation what the route table says it needs: the
/// schemes and 401/403 for routes of a scope, 429 for every rate-limited route.
fn security(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
    );
    let error = |description: String| {
        let content = utoipa::openapi::ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
            .build();
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build()
    };
    for route in super::table() {
        let Some(item) = doc.paths.paths.get_mut(route.path) else {
            continue;
        };
        let op = match route.method.as_str() {
            "GET" => item.get.as_mut(),
            "PUT" => item.put.as_mut(),
            "POST" => item.post.as_mut(),
            "DELETE" => item.delete.as_mut(),
            _ => None,
        };
        let Some(op) = op else { continue };
        let needs = match route.access {
            Access::Probe => continue,
            Access::Public => None,
            Access::Metrics => Some(("admin", " when `[serve.auth] protect_metrics` is set")),
            Access::Scoped(scope) => Some((scope.as_str(), "")),
        };
        let responses = &mut op.responses.responses;
        if matches!(route.method.as_str(), "POST" | "PUT") {
            responses.insert(
                "415".into(),
                error("A body with a `Content-Type` other than JSON (or NDJSON for events), or with a `Content-Encoding` (`unsupported_media_type`).".into()).into(),
            );
        }
        responses.insert(
            "429".into(),
            error("Over a rate limit of `[serve.rate_limit]` (`rate_limited`); `Retry-After` says when to retry.".into()).into(),
        );
        let Some((scope, when)) = needs else { continue };
        let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
        let mut schemes = vec![scheme("bearer"), scheme("api_key")];
        if route.access == Access::Metrics {
            // `{}`: anonymous callers are allowed too (unless protect_metrics is set).
            schemes.push(SecurityRequirement::default());
        }
        op.security = Some(schemes);
        responses.insert(
            "401".into(),
            error(format!("No API key, or an unknown or revoked one (`unauthorized`), once keys are configured{when}.")).into(),
        );
        let loopback = if scope == "admin" {
            "; while no keys are configured, the client is not on loopback"
        } else {
            ""
        };
        responses.insert(
            "403".into(),
            error(format!(
                "The key lacks the `{scope}` scope{when}{loopback} (`forbidden`)."
            ))
            .into(),
        );
    }
}

/// Puts the id schema on an operation's `{id}` path parameter and `user_id` query parameter.
fn id_rules(op: &mut Operation) {
    let is_id = |p: &Parameter| match p.parameter_in {
        ParameterIn::Path => p.name == "id",
        ParameterIn::Query => p.name == "user_id",
        _ => false,
    };
    for p in op.parameters.iter_mut().flatten().filter(|p| is_id(p)) {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(recd_types::MAX_ID_BYTES))
            .pattern(Some(ID_PATTERN));
        p.schema = Some(schema.into());
    }
}

/// The document as JSON, built once.
pub(crate) fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serializing plain maps and strings cannot fail; an empty object keeps the route up
        // if it ever did.
        serde_json::to_string(&document()).unwrap_or_else(|_| "{}".into())
    })
}
