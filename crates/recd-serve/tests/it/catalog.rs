//! Reading the catalog back: `GET /v1/items/{id}`, `GET /v1/items` pages, `GET /v1/users/{id}`,
//! and the `offset` parameter of recommendations (validated before any model is needed).

use axum::http::{Method, StatusCode};
use recd_serve::ServeConfig;
use serde_json::{Value, json};

use crate::support::{Server, check_error, server};

async fn put_items(s: &Server, ids: &[&str]) {
    for id in ids {
        let item = json!({"title": id.to_uppercase(), "tags": ["t"], "price": 2.5});
        let (status, body) = s
            .call(Method::PUT, &format!("/v1/items/{id}"), item.to_string())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// A page's ids, total and next offset.
async fn page(s: &Server, query: &str) -> (Vec<String>, Value, Value) {
    let (status, body) = s.get(&format!("/v1/items?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let ids = body["items"].as_array().unwrap().iter();
    let ids = ids.map(|i| i["id"].as_str().unwrap().to_string()).collect();
    (ids, body["total"].clone(), body["next_offset"].clone())
}

#[tokio::test]
async fn items_are_read_back_one_at_a_time_and_by_pages() {
    let s = server(ServeConfig::default());
    put_items(&s, &["c", "a", "e", "b", "d"]).await;

    let (status, body) = s.get("/v1/items/c").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": "c", "title": "C", "category": null, "tags": ["t"], "price": 2.5,
               "created_at": null, "available": true, "sponsored": false, "attributes": {}})
    );
    check_error(
        s.get("/v1/items/zz").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        None,
    );
    let leading_space = s.get("/v1/items/%20c").await;
    check_error(
        leading_space,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("item_id"),
        None,
    );

    // Id order, whatever the write order; the last page has no next offset.
    let ab = (vec!["a".into(), "b".into()], json!(5), json!(2));
    assert_eq!(page(&s, "limit=2").await, ab);
    let cd = (vec!["c".into(), "d".into()], json!(5), json!(4));
    assert_eq!(page(&s, "offset=2&limit=2").await, cd);
    assert_eq!(
        page(&s, "offset=4&limit=2").await,
        (vec!["e".into()], json!(5), Value::Null)
    );
    assert_eq!(page(&s, "offset=9").await, (vec![], json!(5), Value::Null));
    let last = page(&s, "offset=9223372036854775807").await;
    assert_eq!(last, (vec![], json!(5), Value::Null));
    assert_eq!(page(&s, "").await.0.len(), 5, "default limit");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("offset=9223372036854775808", "offset"),
        ("cursor=a", "cursor"),
    ] {
        let got = s.get(&format!("/v1/items?{query}")).await;
        check_error(
            got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some(field),
            None,
        );
    }
}

#[tokio::test]
async fn user_profiles_are_read_back() {
    let s = server(ServeConfig::default());
    let profile = json!({"age": 30, "gender": "other", "interests": ["jazz"], "country": "FR"});
    let (status, put) = s
        .call(Method::PUT, "/v1/users/u1", profile.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(s.get("/v1/users/u1").await, (StatusCode::OK, put));
    check_error(
        s.get("/v1/users/u2").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
        None,
    );
    let control = s.get("/v1/users/a%0Ab").await;
    check_error(
        control,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_id"),
        None,
    );
}

#[tokio::test]
async fn recommendation_offsets_are_bounded_with_num_results() {
    let s = server(ServeConfig::default());
    // Without a model the answer is the (empty) trending list, but the parameters are checked.
    for query in [
        "offset=0",
        "offset=190&num_results=10",
        "offset=199&num_results=1",
    ] {
        let (status, body) = s
            .get(&format!("/v1/recommendations?user_id=u&{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
    }
    for query in [
        "offset=181",
        "offset=191&num_results=10",
        "offset=-1",
        "offset=x",
    ] {
        let got = s
            .get(&format!("/v1/recommendations?user_id=u&{query}"))
            .await;
        check_error(
            got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("offset"),
            None,
        );
    }
}
