//! `embhub seed --demo`.

use crate::helpers::each_backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_world_loads_once_with_invitations_in_every_state() {
    each_backend(|app| async move {
        let clients = embhub::seed::demo(&app.db, &app.personal_data)
            .await
            .expect("demo seed");
        assert_eq!(clients.len(), 5, "one client per demo role");
        let tables = [
            "organizations",
            "events",
            "event_co_hosts",
            "event_date_changes",
            "sessions",
            "invitations",
            "applications",
            "delegations",
            "participants",
            "api_clients",
        ];
        let mut first = Vec::new();
        for table in tables {
            first.push(app.count_rows(table).await);
        }
        assert!(first.iter().all(|n| *n > 0), "{tables:?} = {first:?}");

        let again = embhub::seed::demo(&app.db, &app.personal_data)
            .await
            .expect("second demo seed");
        assert!(again.is_empty(), "no new clients on a second run");
        for (table, before) in tables.iter().zip(&first) {
            assert_eq!(
                app.count_rows(table).await,
                *before,
                "{table} changed on a second run"
            );
        }

        use embhub::entity::invitation;
        use sea_orm::EntityTrait;
        let mut states: Vec<String> = invitation::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .iter()
            .map(|i| format!("{:?}", i.status))
            .collect();
        states.sort();
        states.dedup();
        assert_eq!(
            states,
            [
                "Accepted",
                "Declined",
                "Draft",
                "Expired",
                "Sent",
                "Withdrawn"
            ]
        );
    })
    .await;
}
