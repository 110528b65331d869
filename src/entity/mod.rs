//! SeaORM entities: the tables as the service layer reads and writes them.
//!
//! No GraphQL derives here: the API is shaped in `graphql/`, so a column can change
//! without the schema moving, and a field can be added to the API without a column.

pub mod api_client;
pub mod application;
pub mod audit_entry;
pub mod calendar_feed;
pub mod data_key;
pub(crate) mod decode;
pub mod delegation;
pub mod directory_source;
pub mod event;
pub mod event_co_host;
pub mod event_date_change;
pub mod invitation;
pub mod organization;
pub mod organization_external_id;
pub mod participant;
pub mod person;
pub mod presentation;
pub mod session;
pub mod token_signing_key;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_outbox;
