//! What the logs may never contain: tokens, client secrets, passport data.

use embhub::auth::Role;
use serde_json::json;

use crate::fixtures::{accept, add_participant, invite, member, published_event};
use crate::helpers::{captured_logs, each_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_tokens_secrets_or_passport_data() {
    each_backend(|app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let credentials = app.create_client(host.uuid, &[Role::Partner]).await;
        let (_, partner_org) = app
            .create_org("Central Election Commission", Some("UZ"))
            .await;
        let partner_credentials = app.create_client(partner_org, &[Role::Partner]).await;
        let partner_token = app.token(&partner_credentials).await;
        let partner_id = crate::helpers::global_id("Organization", partner_org);

        // A wrong secret, a forged token and a failing mutation all get logged.
        let id = credentials.client_id.to_string();
        let wrong_secret = format!("{}-wrong", credentials.secret);
        app.request_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &wrong_secret),
        ])
        .await;
        let forged = format!("{}x", host.token);
        assert_eq!(
            app.gql(Some(&forged), "{ viewer { roles } }", json!({}))
                .await
                .status,
            401
        );

        let event = published_event(&app, &host, json!({})).await;
        let invitation = invite(&app, &host, &event, &[&partner_id], 1, 0)
            .await
            .remove(0);
        let delegation = accept(&app, &partner_token, &invitation).await;
        add_participant(&app, &partner_token, &delegation, "Delegate", false)
            .await
            .data();
        // The seat is taken: this one fails, with its passport number in the input.
        let refused =
            add_participant(&app, &partner_token, &delegation, "Second delegate", false).await;
        assert_eq!(refused.error_code(), "CONFLICT");

        let logs = captured_logs();
        assert!(
            logs.contains("access token refused"),
            "the capture works: the forged token was logged"
        );
        for (what, secret) in [
            ("an access token", host.token.as_str()),
            ("a forged token", forged.as_str()),
            ("a client secret", credentials.secret.as_str()),
            ("a wrong secret", wrong_secret.as_str()),
            ("a partner's token", partner_token.as_str()),
            ("a passport number", "FA1234567"),
            ("a date of birth", "1980-01-02"),
        ] {
            assert!(!logs.contains(secret), "{what} reached the logs");
        }
    })
    .await;
}
