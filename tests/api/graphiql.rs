//! GraphiQL is served from the binary: the page and every asset it loads come
//! from this server (the browser test, `scripts/graphiql-browser-test.sh`, runs
//! it in Chromium with every other host blocked).

use crate::helpers::{TestApp, each_backend, each_backend_with};

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.address))
        .header("accept", accept)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn the_page_loads_only_assets_this_server_serves() {
    each_backend(|app| async move {
        let page = get(&app, "/graphql", "text/html").await;
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self';"),
            "no inline or remote scripts: {csp}"
        );
        assert!(!csp.contains("unpkg") && !csp.contains("https:"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(
            !html.contains("https://") && !html.contains("http://"),
            "{html}"
        );
        let assets: Vec<&str> = html
            .split(['"', '\''])
            .filter(|part| part.starts_with("/graphiql/"))
            .collect();
        assert!(assets.len() >= 6, "{assets:?}");
        for asset in assets {
            let response = get(&app, asset, "*/*").await;
            assert_eq!(response.status(), 200, "{asset}");
            let media_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            let expected = if asset.ends_with(".js") {
                "text/javascript"
            } else {
                "text/css"
            };
            assert!(media_type.starts_with(expected), "{asset}: {media_type}");
            assert!(!response.bytes().await.unwrap().is_empty(), "{asset}");
        }
        assert_eq!(
            get(&app, "/graphiql/../Cargo.toml", "*/*").await.status(),
            404
        );
        assert_eq!(get(&app, "/graphiql/nothing.js", "*/*").await.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn production_serves_neither_the_page_nor_its_assets() {
    each_backend_with(
        |settings| settings.production = true,
        |app| async move {
            let page = get(&app, "/graphql", "text/html").await;
            assert_ne!(
                page.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(
                get(&app, "/graphiql/graphiql.min.js", "*/*").await.status(),
                404
            );
            assert_eq!(get(&app, "/graphiql/embhub.js", "*/*").await.status(), 404);
        },
    )
    .await;
}
