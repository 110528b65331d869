//! `bench-feed`: how quickly a committed change reaches a subscriber, in one
//! process and across two, and what holding many idle sockets costs while changes
//! flow. Driven by `bench/feed.sh`, which starts the servers and makes the tokens.
//!
//! Settings come from the environment: `FEED_A` and optionally `FEED_B` (base URLs
//! of two instances on one database), `FEED_PID_A` (for its memory),
//! `FEED_COORDINATOR_TOKEN` (a host's coordinator), `FEED_PARTNER_TOKEN` (a
//! partner), `FEED_SOCKETS` (idle sockets, default 2000), `FEED_RATE` (changes per
//! second, default 200), `FEED_SECONDS` (default 30), `FEED_SAMPLES` (sequential
//! delay samples, default 200).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const UPDATE: &str = "mutation($id: ID!, $d: String!) { updateEvent(input: { id: $id, description: $d }) { event { id } } }";
const NOTE: &str = "mutation($id: ID!, $d: String!) { updateDelegation(input: { id: $id, notes: $d }) { delegation { id } } }";
const WATCH_DELEGATION: &str = "subscription { delegationChanged { kind delegation { notes } } }";
const WATCH: &str =
    "subscription($id: ID) { eventChanged(eventId: $id) { kind event { description } } }";
const IDLE: &str = "subscription { invitationChanged { kind invitation { id } } }";

fn setting(name: &str, default: Option<&str>) -> anyhow::Result<String> {
    match (std::env::var(name), default) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(default)) => Ok(default.to_owned()),
        (Err(_), None) => bail!("{name} is not set"),
    }
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let body: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    if body.get("errors").is_some() {
        bail!("GraphQL errors: {body}");
    }
    Ok(body["data"].clone())
}

async fn connect(base: &str, token: &str) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })).await?;
    let ack = recv(&mut socket).await?;
    if ack["type"] != "connection_ack" {
        bail!("no ack: {ack}");
    }
    Ok(socket)
}

async fn send(socket: &mut Socket, message: Value) -> anyhow::Result<()> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await?;
    Ok(())
}

async fn recv(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no message within 30 s")?
            .context("socket closed")??;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text)?;
            if message["type"] == "ping" {
                send(socket, json!({ "type": "pong" })).await?;
                continue;
            }
            return Ok(message);
        }
    }
}

/// Subscribes and makes sure the subscription is registered (a ping round trip).
async fn subscribe(socket: &mut Socket, query: &str, variables: Value) -> anyhow::Result<()> {
    send(socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } })).await?;
    send(socket, json!({ "type": "ping" })).await?;
    let pong = recv(socket).await?;
    if pong["type"] != "pong" {
        bail!("expected pong, got {pong}");
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(label: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    println!(
        "| {label} | {} | {:.1} | {:.1} | {:.1} |",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or(f64::NAN)
    );
}

/// Sequential changes through `writer`, heard on `listener`: ms from sending the
/// mutation, and from its response, to the subscriber's message.
async fn delays(
    http: &reqwest::Client,
    listener: &str,
    writer: &str,
    coordinator: &str,
    partner: &str,
    event: &str,
    samples: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut socket = connect(listener, partner).await?;
    subscribe(&mut socket, WATCH, json!({ "id": event })).await?;
    let (mut from_request, mut from_response) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let marker = format!("feed sample {i} {:?}", Instant::now());
        let sent = Instant::now();
        gql(
            http,
            writer,
            coordinator,
            UPDATE,
            json!({ "id": event, "d": marker }),
        )
        .await?;
        let answered = Instant::now();
        loop {
            let message = recv(&mut socket).await?;
            if message["payload"]["data"]["eventChanged"]["event"]["description"] == marker.as_str()
            {
                break;
            }
        }
        let heard = Instant::now();
        from_request.push((heard - sent).as_secs_f64() * 1000.0);
        from_response.push(heard.saturating_duration_since(answered).as_secs_f64() * 1000.0);
    }
    Ok((from_request, from_response))
}

fn rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = setting("FEED_A", None)?;
    let b = std::env::var("FEED_B").ok();
    let pid = setting("FEED_PID_A", Some(""))?;
    let coordinator = setting("FEED_COORDINATOR_TOKEN", None)?;
    let partner = setting("FEED_PARTNER_TOKEN", None)?;
    let sockets: usize = setting("FEED_SOCKETS", Some("2000"))?.parse()?;
    let rate: u64 = setting("FEED_RATE", Some("200"))?.parse()?;
    let seconds: u64 = setting("FEED_SECONDS", Some("30"))?.parse()?;
    let samples: usize = setting("FEED_SAMPLES", Some("200"))?.parse()?;
    let http = reqwest::Client::new();

    let viewer = gql(
        &http,
        &a,
        &coordinator,
        "{ viewer { organization { id } } }",
        json!({}),
    )
    .await?;
    let host = viewer["viewer"]["organization"]["id"].clone();
    let found = gql(
        &http,
        &a,
        &coordinator,
        "query($host: ID!) { events(first: 1, filter: { hostId: $host, statuses: [PUBLISHED] }) { nodes { id } } }",
        json!({ "host": host }),
    )
    .await?;
    let event = found["events"]["nodes"][0]["id"]
        .as_str()
        .context("the coordinator's organization hosts no published event")?
        .to_owned();

    println!(
        "| delay from a committed change to the subscriber's message | samples | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|");
    let (request, response) =
        delays(&http, &a, &a, &coordinator, &partner, &event, samples).await?;
    summary("same instance, from sending the mutation", request);
    summary("same instance, from the mutation's response", response);
    if let Some(b) = &b {
        let (request, response) =
            delays(&http, &a, b, &coordinator, &partner, &event, samples).await?;
        summary("across instances, from sending the mutation", request);
        summary("across instances, from the mutation's response", response);
    }

    let before = rss_mib(&pid);
    let mut idle = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let mut socket = connect(&a, &partner).await?;
        subscribe(&mut socket, IDLE, json!({})).await?;
        idle.push(socket);
    }
    let holding = rss_mib(&pid);
    // The flow: notes on the partner's delegation, by the partner (one row; a
    // change without expectedVersion never conflicts), heard by the partner.
    let delegations = gql(
        &http,
        &a,
        &partner,
        "{ delegations(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await?;
    let delegation = delegations["delegations"]["nodes"][0]["id"]
        .as_str()
        .context("the partner has no delegation")?
        .to_owned();
    let mut watcher = connect(&a, &partner).await?;
    subscribe(&mut watcher, WATCH_DELEGATION, json!({})).await?;
    let started = Instant::now();
    let writer = {
        let (http, a, partner, delegation) =
            (http.clone(), a.clone(), partner.clone(), delegation.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            let mut sent = std::collections::HashMap::new();
            let mut writes = Vec::new();
            for i in 0..rate * seconds {
                ticks.tick().await;
                let marker = format!("flow {i}");
                sent.insert(marker.clone(), Instant::now());
                let (http, a, partner, delegation) =
                    (http.clone(), a.clone(), partner.clone(), delegation.clone());
                writes.push(tokio::spawn(async move {
                    gql(
                        &http,
                        &a,
                        &partner,
                        NOTE,
                        json!({ "id": delegation, "d": marker }),
                    )
                    .await
                    .is_ok()
                }));
            }
            let mut failed = 0;
            for write in writes {
                if !write.await.unwrap_or(false) {
                    failed += 1;
                }
            }
            (sent, failed)
        })
    };
    let mut heard = Vec::new();
    let deadline = started + Duration::from_secs(seconds + 10);
    let mut resyncs = 0;
    while Instant::now() < deadline && heard.len() < (rate * seconds) as usize {
        let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_secs(5), recv(&mut watcher)).await
        else {
            break;
        };
        let change = &message["payload"]["data"]["delegationChanged"];
        if change["kind"] == "RESYNC" {
            resyncs += 1;
        }
        if let Some(d) = change["delegation"]["notes"].as_str() {
            heard.push((d.to_owned(), Instant::now()));
        }
    }
    let (sent, failed) = writer.await?;
    let elapsed = started.elapsed().as_secs_f64();
    let peak = rss_mib(&pid);
    let mut flow_delays: Vec<f64> = heard
        .iter()
        .filter_map(|(marker, at)| Some((*at - *sent.get(marker)?).as_secs_f64() * 1000.0))
        .collect();
    flow_delays.sort_by(f64::total_cmp);
    println!();
    println!(
        "| {sockets} idle sockets (one `invitationChanged` each) + {rate} delegation changes/s for {seconds} s | value |"
    );
    println!("|---|---|");
    println!(
        "| changes written / failed | {} / {failed} |",
        rate * seconds
    );
    println!(
        "| changes heard by one `delegationChanged` subscriber (RESYNCs) | {} ({resyncs}) |",
        heard.len()
    );
    println!(
        "| delay from sending to hearing, p50 / p99 ms | {:.1} / {:.1} |",
        percentile(&flow_delays, 0.5),
        percentile(&flow_delays, 0.99)
    );
    println!(
        "| RSS before sockets / holding them / after the flow, MiB | {:.0} / {:.0} / {:.0} |",
        before.unwrap_or(f64::NAN),
        holding.unwrap_or(f64::NAN),
        peak.unwrap_or(f64::NAN)
    );
    println!("| wall time of the flow, s | {elapsed:.1} |");
    drop(idle);
    Ok(())
}
