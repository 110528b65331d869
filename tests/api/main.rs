//! Integration tests: the real server on a random port, spoken to over HTTP as a
//! client would. Each test runs on SQLite and, when `TEST_DATABASE_URL` is set, on
//! PostgreSQL, with a fresh database per run.

mod access_matrix;
mod activity;
mod auth;
mod calendar;
mod changes_since;
mod co_hosts;
mod console;
mod cors;
mod delegations;
mod directory;
mod events;
mod fixtures;
mod graphiql;
mod helpers;
mod http_protocol;
mod input_validation;
mod instances;
mod limits;
mod logging;
mod observability;
mod organizations;
mod pagination;
mod participation;
mod participation_rules;
mod people;
mod personal_data;
mod rate_limits;
mod resilience;
mod schema;
mod seed;
mod server;
mod sorting;
mod subscriptions;
mod webhooks;
