//! embhub: the GraphQL API through which election management bodies and their
//! partners coordinate international events — invitations, applications,
//! delegations and agendas.
//!
//! Layers, outside in: `http` (axum routes) → `graphql` (thin types and resolvers)
//! → `service` (rules, access decisions, transactions) → `entity` (tables), with
//! `domain` holding validated values and `auth` the caller and its tokens.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod feed;
pub mod graphql;
pub mod http;
pub mod seed;
pub mod service;
pub mod startup;
pub mod telemetry;
