#!/usr/bin/env python3
"""Helpers of bench/run (Python 3, standard library only).

bench/run builds, creates the databases and starts and stops the servers; this
file talks to the servers:

  tokens    sign embhub's benchmark clients in (OAuth client credentials)
  verify    check that every server returns the same rows for each read workload
            (canonical form: ids, field values, sorted lists) and that the writes
            answer; count SQL statements per request from the PostgreSQL log
  measure   drive the workloads with wrk, alternating the servers over rounds;
            record requests/s, latency, errors and peak RSS
  invite    time sequential inviteOrganizations calls of 150 organizations
  soak      reads plus paced writes against embhub for N minutes, one line a minute
  cpu       one workload on chosen servers: req/s and CPU per request of the server
            and of its PostgreSQL backends (for profiling, with bench/run --serve)
  report    turn the results into markdown tables

Every server runs on 127.0.0.1; every loop is bounded in count and time.
"""

import argparse
import base64
import datetime as dt
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"

# ---------------------------------------------------------------- documents

EMBHUB_DASHBOARD = """query Dashboard($org: ID!) {
  invitations(first: 100, filter: { organizationId: $org }) {
    totalCount
    nodes {
      id status seatsOffered fundedSeats respondBy
      event {
        id title startDate endDate dateStatus status
        host { id name }
        sessions { id title startsAt endsAt }
      }
      delegation { id status notes participants(first: 10) { nodes { id fullName role } } }
    }
  }
}"""

POSTGRAPHILE_DASHBOARD = """query Dashboard($org: UUID!) {
  allInvitations(condition: { organizationId: $org }, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC], first: 100) {
    totalCount
    nodes {
      rowId status seatsOffered fundedSeats respondBy
      eventByEventId {
        rowId title startDate endDate dateStatus status
        organizationByHostOrganizationId { rowId name }
        sessionsByEventId(orderBy: [STARTS_AT_ASC, PRIMARY_KEY_ASC]) { nodes { rowId title startsAt endsAt } }
      }
      delegationByInvitationId {
        rowId status notes
        participantsByDelegationId(orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) { nodes { rowId fullName role } }
      }
    }
  }
}"""

EMBHUB_EVENT = """query Event($id: ID!) {
  event(id: $id) {
    id title startDate endDate dateStatus status kind timeZone countryCode city
    host { id name countryCode }
    sessions { id title startsAt endsAt kind topic location }
  }
}"""

POSTGRAPHILE_EVENT = """query Event($id: UUID!) {
  eventByRowId(rowId: $id) {
    rowId title startDate endDate dateStatus status kind timeZone countryCode city
    organizationByHostOrganizationId { rowId name countryCode }
    sessionsByEventId(orderBy: [STARTS_AT_ASC, PRIMARY_KEY_ASC]) {
      nodes { rowId title startsAt endsAt kind topic location }
    }
  }
}"""

EMBHUB_WRITE = """mutation Write($input: UpdateDelegationInput!) {
  updateDelegation(input: $input) { delegation { id notes version } }
}"""

POSTGRAPHILE_WRITE = """mutation Write($id: UUID!, $notes: String) {
  updateDelegationByRowId(input: { rowId: $id, delegationPatch: { notes: $notes } }) {
    delegation { rowId notes version }
  }
}"""

EMBHUB_CREATE_EVENT = """mutation($title: String!) {
  createEvent(input: { kind: ELECTION_VISITOR_PROGRAM, title: $title, timeZone: "Asia/Seoul",
    startDate: "2031-05-04", endDate: "2031-05-10" }) { event { id } }
}"""
EMBHUB_PUBLISH = "mutation($id: ID!) { publishEvent(input: { id: $id }) { event { id } } }"
EMBHUB_INVITE = """mutation($input: InviteOrganizationsInput!) {
  inviteOrganizations(input: $input) { invitations { id } }
}"""

WRITE_NOTES = "Bench: arrives on the morning flight."

# ---------------------------------------------------------------- workloads

# kind, which partner's data, connections, servers (the first is the one the
# ratios are about).
WORKLOADS = {
    "dashboard30": dict(kind="dashboard", partner="small", connections=16),
    "dashboard100": dict(kind="dashboard", partner="large", connections=16),
    "dashboard30_c50": dict(kind="dashboard", partner="small", connections=50),
    "event": dict(kind="event", partner="small", connections=16),
    "write_spread": dict(kind="write", partner="large", connections=16, spread=True),
    "write_one_row": dict(kind="write", partner="large", connections=16, spread=False),
    "dashboard30_sqlite": dict(
        kind="dashboard", partner="small", connections=16, servers=["embhub_sqlite", "postgraphile"]
    ),
}
PG_SERVERS = ["embhub", "postgraphile", "raw"]
TITLES = {
    "dashboard30": "a partner's dashboard, ~30 invitations (16 connections)",
    "dashboard100": "a partner's dashboard, ~100 invitations (16 connections)",
    "dashboard30_c50": "the ~30-invitation dashboard at 50 connections",
    "event": "one event by id with its sessions (16 connections)",
    "write_spread": "updateDelegation (notes), each request on the next of the partner's delegations (16 connections)",
    "write_one_row": "updateDelegation (notes), all connections on one row (16 connections)",
    "dashboard30_sqlite": "the ~30-invitation dashboard, embhub on SQLite (16 connections)",
}
LABELS = {
    "embhub": "embhub",
    "postgraphile": "PostGraphile v5",
    "raw": "raw (axum + sqlx)",
    "embhub_sqlite": "embhub on SQLite",
}


def servers_of(name):
    return WORKLOADS[name].get("servers", PG_SERVERS)


def global_id(type_name, uuid):
    raw = f"{type_name}:{uuid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def fixture_for(ctx, server):
    return ctx["fixture_sqlite"] if server == "embhub_sqlite" else ctx["fixture"]


def partner(ctx, server, which):
    f = fixture_for(ctx, server)
    return f["small_partner"] if which == "small" else f["large_partner"]


def requests_for(ctx, workload, server):
    """The requests of a workload for a server: (method, path, body, auth)."""
    w = WORKLOADS[workload]
    f = fixture_for(ctx, server)
    org = partner(ctx, server, w["partner"])["organization_id"]
    token = ctx["tokens"].get(server, {}).get(w["partner"])
    auth = f"Bearer {token}" if token else ""
    gql = lambda query, variables: json.dumps({"query": query, "variables": variables})  # noqa: E731
    embhub = server in ("embhub", "embhub_sqlite")
    if w["kind"] == "dashboard":
        if embhub:
            body = gql(EMBHUB_DASHBOARD, {"org": global_id("Organization", org)})
            return [("POST", "/graphql", body, auth)]
        if server == "postgraphile":
            return [("POST", "/graphql", gql(POSTGRAPHILE_DASHBOARD, {"org": org}), "")]
        return [("GET", f"/dashboard/{org}", "", "")]
    if w["kind"] == "event":
        event = f["event_id"]
        if embhub:
            return [("POST", "/graphql", gql(EMBHUB_EVENT, {"id": global_id("Event", event)}), auth)]
        if server == "postgraphile":
            return [("POST", "/graphql", gql(POSTGRAPHILE_EVENT, {"id": event}), "")]
        return [("GET", f"/event/{event}", "", "")]
    rows = f["delegation_ids"] if w.get("spread") else f["delegation_ids"][:1]
    out = []
    for d in rows:
        if embhub:
            variables = {"input": {"id": global_id("Delegation", d), "notes": WRITE_NOTES}}
            out.append(("POST", "/graphql", gql(EMBHUB_WRITE, variables), auth))
        elif server == "postgraphile":
            out.append(("POST", "/graphql", gql(POSTGRAPHILE_WRITE, {"id": d, "notes": WRITE_NOTES}), ""))
        else:
            out.append(("POST", f"/delegation/{d}/notes", json.dumps({"notes": WRITE_NOTES}), ""))
    return out


# ---------------------------------------------------------------- HTTP


def call(port, method, path, body="", auth="", timeout=60):
    """One request; returns (status, text)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    try:
        conn.request(method, path, body=body.encode() if body else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def call_json(port, method, path, body="", auth=""):
    status, text = call(port, method, path, body, auth)
    try:
        data = json.loads(text)
    except ValueError:
        raise SystemExit(f"{method} {path} on :{port} answered {status} with a non-JSON body: {text[:300]}")
    if status != 200 or (isinstance(data, dict) and data.get("errors")):
        raise SystemExit(f"{method} {path} on :{port} answered {status}: {text[:500]}")
    return data


def embhub_gql(port, token, query, variables):
    body = json.dumps({"query": query, "variables": variables})
    return call_json(port, "POST", "/graphql", body, f"Bearer {token}")["data"]


# ---------------------------------------------------------------- canonical form


def uuid_of(value):
    """A row id: embhub's global ids are base64url of `Type:uuid`."""
    if value is None or re.fullmatch(r"[0-9a-f-]{36}", value):
        return value
    padded = value + "=" * (-len(value) % 4)
    return base64.urlsafe_b64decode(padded).decode().split(":", 1)[1]


def instant(value):
    """A timestamp as one UTC form, whatever the server's offset notation."""
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone.utc).isoformat()


def nodes(value):
    """A list, whether plain (raw) or a connection (embhub, PostGraphile)."""
    if value is None:
        return []
    return value["nodes"] if isinstance(value, dict) else value


def pick(obj, *names):
    """The first of `names` present in `obj` (the servers name fields differently)."""
    for n in names:
        if n in obj:
            return obj[n]
    raise KeyError(f"none of {names} in {sorted(obj)}")


def row_id(obj):
    return obj["rowId"] if "rowId" in obj else uuid_of(obj["id"])


def fields(obj, names):
    """The named fields (all must be there), ids as row ids, timestamps in UTC."""
    out = {}
    for name in names:
        value = obj[name]
        out[name] = instant(value) if name in ("startsAt", "endsAt", "respondBy") else value
    out["id"] = row_id(obj)
    return out


def canonical_event(e, details=False):
    """An event as the dashboard (or, with `details`, the event workload) selects it."""
    if e is None:
        return None
    host = pick(e, "host", "organizationByHostOrganizationId")
    event_fields = ["title", "startDate", "endDate", "dateStatus", "status"]
    host_fields = ["name"]
    session_fields = ["title", "startsAt", "endsAt"]
    if details:
        event_fields += ["kind", "timeZone", "countryCode", "city"]
        host_fields += ["countryCode"]
        session_fields += ["kind", "topic", "location"]
    out = fields(e, event_fields)
    out["host"] = fields(host, host_fields)
    sessions = nodes(pick(e, "sessions", "sessionsByEventId"))
    out["sessions"] = sorted((fields(s, session_fields) for s in sessions), key=lambda s: s["id"])
    return out


def canonical_dashboard(data):
    conn = pick(data, "invitations", "allInvitations")
    invitations = []
    for i in conn["nodes"]:
        d = pick(i, "delegation", "delegationByInvitationId")
        delegation = None
        if d is not None:
            members = nodes(pick(d, "participants", "participantsByDelegationId"))
            delegation = fields(d, ["status", "notes"])
            delegation["participants"] = sorted(
                (fields(p, ["fullName", "role"]) for p in members), key=lambda p: p["id"]
            )
        invitation = fields(i, ["status", "seatsOffered", "fundedSeats", "respondBy"])
        invitation["event"] = canonical_event(pick(i, "event", "eventByEventId"))
        invitation["delegation"] = delegation
        invitations.append(invitation)
    return dict(totalCount=conn["totalCount"], invitations=sorted(invitations, key=lambda i: i["id"]))


def canonical(workload, data):
    data = data["data"]
    if WORKLOADS[workload]["kind"] == "dashboard":
        return canonical_dashboard(data)
    return canonical_event(pick(data, "event", "eventByRowId"), details=True)


def first_difference(a, b, path="$"):
    """Where two canonical forms first differ, for the error message."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: present on one side only"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for n, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{n}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


# ---------------------------------------------------------------- statements


class StatementLog:
    """Counts the statements a role runs, from the PostgreSQL server log.

    bench/run sets `log_statement = 'all'` on each server's role for the counting
    phase, so every statement a server sends is one `LOG:  statement:` (simple
    protocol) or `LOG:  execute …:` (extended protocol, prepared or not) line,
    prefixed with `role@database` (Debian's log_line_prefix). Transaction control
    (BEGIN, COMMIT, ROLLBACK) counts, as does anything else sent.
    """

    def __init__(self, path, database):
        self.path = path
        self.database = database

    def offset(self):
        return os.path.getsize(self.path)

    def count(self, role, start):
        time.sleep(0.3)  # let the server write the last lines
        pattern = re.compile(
            rf"\[\d+\] {re.escape(role)}@{re.escape(self.database)} LOG:  (statement: |execute )"
        )
        with open(self.path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
        return sum(1 for line in text.splitlines() if pattern.search(line))


# ---------------------------------------------------------------- commands


def load(path):
    with open(path) as f:
        return json.load(f)


def context(args):
    ctx = dict(
        servers=load(args.servers),
        fixture=load(args.fixture),
        fixture_sqlite=load(args.fixture_sqlite) if getattr(args, "fixture_sqlite", None) else None,
        tokens=load(args.tokens) if getattr(args, "tokens", None) and os.path.exists(args.tokens) else {},
    )
    return ctx


def cmd_tokens(args):
    servers = load(args.servers)
    out = {}
    for server, fixture_path in (("embhub", args.fixture), ("embhub_sqlite", args.fixture_sqlite)):
        if server not in servers or not fixture_path:
            continue
        fixture = load(fixture_path)
        port = servers[server]["port"]
        out[server] = {}
        for which, key in (("small", "small_partner"), ("large", "large_partner"), ("coordinator", "coordinator")):
            client = fixture[key]
            body = urllib.parse.urlencode(
                dict(
                    grant_type="client_credentials",
                    client_id=client["client_id"],
                    client_secret=client["client_secret"],
                )
            )
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("POST", "/oauth/token", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            text = response.read().decode()
            conn.close()
            if response.status != 200:
                raise SystemExit(f"{server}: no token for the {which} client: {response.status} {text[:300]}")
            out[server][which] = json.loads(text)["access_token"]
    with open(args.out, "w") as f:
        json.dump(out, f)


def fetch(ctx, workload, server):
    port = ctx["servers"][server]["port"]
    method, path, body, auth = requests_for(ctx, workload, server)[0]
    return call_json(port, method, path, body, auth)


def cmd_verify(args):
    ctx = context(args)
    log = StatementLog(args.pg_log, args.database) if args.pg_log else None
    workloads = [w for w in args.workloads.split(",") if w in WORKLOADS]
    statements = {}
    failed = False
    for workload in workloads:
        servers = [s for s in servers_of(workload) if s in ctx["servers"]]
        if WORKLOADS[workload]["kind"] == "write":
            for server in servers:
                data = fetch(ctx, workload, server)["data"]
                payload = pick(data, "updateDelegation", "updateDelegationByRowId")["delegation"]
                if payload["notes"] != WRITE_NOTES:
                    print(f"  {workload}: {server} wrote {payload['notes']!r}", file=sys.stderr)
                    failed = True
            print(f"verify {workload:<20} every server writes and answers the row")
        else:
            forms = {s: canonical(workload, fetch(ctx, workload, s)) for s in servers}
            reference = servers[0]
            size = len(json.dumps(fetch(ctx, workload, reference)))
            for other in servers[1:]:
                diff = first_difference(forms[reference], forms[other])
                if diff:
                    print(f"MISMATCH {workload}: {reference} vs {other}: {diff}", file=sys.stderr)
                    failed = True
            rows = forms[reference]
            count = len(rows["invitations"]) if "invitations" in rows else len(rows["sessions"])
            print(
                f"verify {workload:<20} {' = '.join(servers)}: same rows "
                f"({count} {'invitations' if 'invitations' in rows else 'sessions'}, {size:,} bytes from {reference})"
            )
        if not log:
            continue
        for server in servers:
            role = ctx["servers"][server].get("role")
            if not role:
                continue
            key = f"{workload}/{server}"
            requests = requests_for(ctx, workload, server)
            port = ctx["servers"][server]["port"]
            for method, path, body, auth in requests[:3]:  # warm-up, not counted
                call(port, method, path, body, auth)
            start = log.offset()
            for n in range(args.count):
                method, path, body, auth = requests[n % len(requests)]
                status, text = call(port, method, path, body, auth)
                if status != 200:
                    raise SystemExit(f"{key}: {status} while counting: {text[:300]}")
            statements[key] = log.count(role, start) / args.count
            print(f"  statements per request {key:<32} {statements[key]:.1f}")
    if log and "embhub" in ctx["servers"] and args.invite:
        fixture = ctx["fixture"]
        token = ctx["tokens"]["embhub"]["coordinator"]
        port = ctx["servers"]["embhub"]["port"]
        event = prepare_event(port, token, "counting")
        start = log.offset()
        invite(port, token, event, fixture["invite_organization_ids"])
        statements["invite150/embhub"] = log.count(ctx["servers"]["embhub"]["role"], start)
        print(f"  statements per request {'invite150/embhub':<32} {statements['invite150/embhub']:.0f}")
    with open(args.out, "w") as f:
        json.dump(statements, f, indent=1)
    if failed:
        raise SystemExit("the servers disagree: see the lines above")


def prepare_event(port, token, label):
    title = f"Bench invitations {label} {time.time_ns()}"
    created = embhub_gql(port, token, EMBHUB_CREATE_EVENT, {"title": title})
    event = created["createEvent"]["event"]["id"]
    embhub_gql(port, token, EMBHUB_PUBLISH, {"id": event})
    return event


def invite(port, token, event, organizations):
    variables = {
        "input": {
            "eventId": event,
            "organizationIds": [global_id("Organization", o) for o in organizations],
            "seatsOffered": 2,
            "fundedSeats": 2,
            "fundingCovers": ["AIRFARE", "ACCOMMODATION"],
            "send": True,
        }
    }
    started = time.perf_counter()
    data = embhub_gql(port, token, EMBHUB_INVITE, variables)
    elapsed = time.perf_counter() - started
    got = len(data["inviteOrganizations"]["invitations"])
    if got != len(organizations):
        raise SystemExit(f"inviteOrganizations returned {got} invitations, not {len(organizations)}")
    return elapsed


def nearest_rank(samples, p):
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def cmd_invite(args):
    ctx = context(args)
    results = load(args.results) if os.path.exists(args.results) else {}
    out = results.setdefault("invite150", {})
    for server in ("embhub", "embhub_sqlite"):
        if server not in ctx["servers"]:
            continue
        port = ctx["servers"][server]["port"]
        token = ctx["tokens"][server]["coordinator"]
        fixture = fixture_for(ctx, server)
        samples = []
        deadline = time.monotonic() + 300
        for n in range(args.calls):
            if time.monotonic() > deadline:
                break
            event = prepare_event(port, token, f"{server} {n}")
            samples.append(invite(port, token, event, fixture["invite_organization_ids"]) * 1000)
        out[server] = dict(
            calls=len(samples),
            median_ms=statistics.median(samples),
            p99_ms=nearest_rank(samples, 99),
            min_ms=min(samples),
            samples_ms=[round(s, 1) for s in samples],
        )
        print(
            f"invite150 {LABELS[server]:<18} median {out[server]['median_ms']:.1f} ms, "
            f"p99 {out[server]['p99_ms']:.1f} ms over {len(samples)} calls"
        )
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)


# ---------------------------------------------------------------- load


def proc_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    """Restarts VmHWM from the current RSS (Linux: `5` to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as err:
        print(f"(cannot reset the peak RSS of {pid}: {err}; it is then the peak since start)", file=sys.stderr)


def write_requests(ctx, workload, server, path):
    requests = requests_for(ctx, workload, server)
    with open(path, "w") as f:
        for method, target, body, _ in requests:
            if "\t" in body or "\n" in body:
                raise SystemExit("a request body holds a tab or newline")
            f.write(f"{method}\t{target}\t{body}\n")
    return requests[0][3]


def wrk(ctx, workload, server, connections, seconds, work):
    port = ctx["servers"][server]["port"]
    path = os.path.join(work, f"requests-{workload}-{server}.txt")
    auth = write_requests(ctx, workload, server, path)
    threads = 2
    env = dict(os.environ, BENCH_REQUESTS=path, BENCH_AUTH=auth, BENCH_THREADS=str(threads))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        os.path.join(HERE, "requests.lua"),
        f"http://{HOST}:{port}/",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            r = json.loads(line[len("BENCH_RESULT ") :])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["errors"] = r["socket_errors"] + r["status_errors"] + r["other_status"] + r["gql_errors"]
            return r
    raise SystemExit(f"wrk gave no result for {workload} on {server}:\n{done.stdout}\n{done.stderr}")


def cmd_measure(args):
    ctx = context(args)
    results = load(args.results) if os.path.exists(args.results) else {}
    results.setdefault("workloads", {})
    results["settings"] = dict(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup)
    workloads = [w for w in args.workloads.split(",") if w in WORKLOADS]
    for workload in workloads:
        w = WORKLOADS[workload]
        servers = [s for s in servers_of(workload) if s in ctx["servers"]]
        if len(servers) < 2:
            continue
        print(f"measure {workload}: {args.rounds} rounds x {args.duration}s per server, {w['connections']} connections")
        for server in servers:  # warm-up: caches, pools, JIT
            wrk(ctx, workload, server, w["connections"], args.warmup, args.work)
            reset_peak(ctx["servers"][server]["pid"])
        rounds = {s: [] for s in servers}
        for r in range(args.rounds):
            order = servers[r % len(servers) :] + servers[: r % len(servers)]
            for server in order:
                result = wrk(ctx, workload, server, w["connections"], args.duration, args.work)
                result["load1"] = os.getloadavg()[0]
                rounds[server].append(result)
                print(
                    f"  round {r + 1} {server:<14} {result['rps']:9.1f} req/s  p50 {result['p50_us'] / 1000:7.1f} ms"
                    f"  p99 {result['p99_us'] / 1000:7.1f} ms  errors {result['errors']}"
                )
        summary = {}
        for server in servers:
            rs = rounds[server]
            summary[server] = dict(
                rps=statistics.mean(r["rps"] for r in rs),
                rps_min=min(r["rps"] for r in rs),
                rps_max=max(r["rps"] for r in rs),
                p50_ms=statistics.median(r["p50_us"] for r in rs) / 1000,
                p99_ms=statistics.median(r["p99_us"] for r in rs) / 1000,
                errors=sum(r["errors"] for r in rs),
                requests=sum(r["requests"] for r in rs),
                bytes_per_request=sum(r["bytes"] for r in rs) / max(1, sum(r["requests"] for r in rs)),
                peak_rss_mb=proc_kb(ctx["servers"][server]["pid"], "VmHWM") / 1024,
                rounds=rs,
            )
        results["workloads"][workload] = dict(connections=w["connections"], servers=summary)
        if stand_in_for_autovacuum(args.database):
            results.setdefault("versions", {})["autovacuum"] = (
                "off on this server: the benchmark ran VACUUM (ANALYZE) on its database after each workload"
            )
        with open(args.results, "w") as f:
            json.dump(results, f, indent=1)


def process_cpu_us(pid):
    """User plus system CPU time of a process so far, in microseconds (0 once gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) * 1_000_000 // ticks


def backend_pids(role, database):
    """The PostgreSQL backends a server's role holds open on `database`."""
    if not role:
        return []
    query = f"SELECT pid FROM pg_stat_activity WHERE usename = '{role}' AND datname = '{database}'"
    done = subprocess.run(
        ["psql", "postgres://postgres@127.0.0.1:5432/postgres", "-Atc", query],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return [int(line) for line in done.stdout.split() if line.strip().isdigit()]


def admin_sql(sql, database="postgres"):
    """One statement as the `postgres` superuser; its output lines."""
    done = subprocess.run(
        ["psql", f"postgres://postgres@{HOST}:5432/{database}", "-Atc", sql],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout.split()


def autovacuum_on():
    return admin_sql("SHOW autovacuum") == ["on"]


def dead_tuples(database):
    """Dead row versions across the database's tables (what VACUUM would reclaim)."""
    rows = admin_sql("SELECT COALESCE(SUM(n_dead_tup), 0) FROM pg_stat_user_tables", database)
    return int(rows[0]) if rows and rows[0].isdigit() else 0


def stand_in_for_autovacuum(database):
    """VACUUM (ANALYZE) the benchmark database when the server's autovacuum is off.

    Some machines run PostgreSQL with `autovacuum = off`; a production server never
    does. Without it, every write workload leaves its dead rows to the next one and a
    soak measures the table bloat it builds up rather than the servers. So the
    benchmark does what autovacuum would: after each workload and each soak minute.
    """
    if not autovacuum_on():
        admin_sql("VACUUM (ANALYZE)", database)
        return True
    return False


def cmd_cpu(args):
    """Drives one workload against each chosen server and splits its CPU per
    request between the server process and the PostgreSQL backends of its role:
    a profile's first question (who spends the time) answered without perf."""
    ctx = context(args)
    w = WORKLOADS[args.workload]
    connections = args.connections or w["connections"]
    for server in args.on.split(","):
        entry = ctx["servers"][server]
        wrk(ctx, args.workload, server, connections, args.warmup, args.work)
        backends = backend_pids(entry.get("role"), args.database)
        before = {pid: process_cpu_us(pid) for pid in backends}
        server_before = process_cpu_us(entry["pid"])
        result = wrk(ctx, args.workload, server, connections, args.duration, args.work)
        server_us = process_cpu_us(entry["pid"]) - server_before
        pg_us = sum(max(0, process_cpu_us(pid) - cpu) for pid, cpu in before.items())
        n = max(1, result["requests"])
        print(
            f"{args.workload:<16} {server:<14} {result['rps']:9.1f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms"
            f"  p99 {result['p99_us'] / 1000:6.1f} ms  errors {result['errors']}"
            f"  CPU/request: server {server_us / n:7.0f} us, PostgreSQL {pg_us / n:7.0f} us"
        )


def cmd_soak(args):
    ctx = context(args)
    server = "embhub"
    port = ctx["servers"][server]["port"]
    pid = ctx["servers"][server]["pid"]
    writes = requests_for(ctx, "write_spread", server)
    stop = threading.Event()
    counters = dict(writes=0, write_errors=0)
    lock = threading.Lock()

    writers = 4

    def writer(index):
        """Paced writes over the partner's delegations: with the other writers,
        `--write-rate` a second (several, so a slow answer does not slow the pace)."""
        interval = writers / args.write_rate
        n = index
        due = time.monotonic() + index * interval / writers
        while not stop.is_set():
            method, path, body, auth = writes[n % len(writes)]
            n += writers
            try:
                status, text = call(port, method, path, body, auth, timeout=10)
                ok = status == 200 and '"errors"' not in text
            except OSError:
                ok = False
            with lock:
                counters["writes"] += 1
                counters["write_errors"] += 0 if ok else 1
            due += interval
            time.sleep(max(0, due - time.monotonic()))

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(writers)]
    for thread in threads:
        thread.start()
    minutes = []
    vacuums = not autovacuum_on()
    print(f"soak: {args.minutes} min of dashboard reads at {args.connections} connections plus ~{args.write_rate} writes/s")
    if vacuums:
        print("(autovacuum is off on this server: the soak runs VACUUM (ANALYZE) after each minute instead)")
    print(
        f"{'minute':>6} {'reads/s':>9} {'p99 ms':>8} {'errors':>7} {'writes/s':>9} {'w.err':>6} {'RSS MB':>7} {'peak MB':>8}"
        f" {'dead rows':>9}"
    )
    try:
        for minute in range(1, args.minutes + 1):
            with lock:
                before = dict(counters)
            r = wrk(ctx, "dashboard30", server, args.connections, 60, args.work)
            with lock:
                wrote = counters["writes"] - before["writes"]
                werr = counters["write_errors"] - before["write_errors"]
            row = dict(
                minute=minute,
                reads_rps=r["rps"],
                p99_ms=r["p99_us"] / 1000,
                read_errors=r["errors"],
                writes_per_s=wrote / 60,
                write_errors=werr,
                rss_mb=proc_kb(pid, "VmRSS") / 1024,
                peak_rss_mb=proc_kb(pid, "VmHWM") / 1024,
                dead_rows=dead_tuples(args.database),
            )
            minutes.append(row)
            print(
                f"{minute:>6} {row['reads_rps']:>9.1f} {row['p99_ms']:>8.1f} {row['read_errors']:>7} "
                f"{row['writes_per_s']:>9.1f} {row['write_errors']:>6} {row['rss_mb']:>7.1f} {row['peak_rss_mb']:>8.1f}"
                f" {row['dead_rows']:>9}"
            )
            if vacuums:
                stand_in_for_autovacuum(args.database)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    first, last = minutes[0]["reads_rps"], minutes[-1]["reads_rps"]
    change = (last - first) / first * 100 if first else 0
    print(f"soak: last minute {change:+.1f}% against the first; RSS {minutes[0]['rss_mb']:.1f} -> {minutes[-1]['rss_mb']:.1f} MB")
    results = load(args.results) if os.path.exists(args.results) else {}
    results["soak"] = dict(
        connections=args.connections, write_rate=args.write_rate, vacuumed_each_minute=vacuums, minutes=minutes
    )
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)


# ---------------------------------------------------------------- report


def machine():
    def first_line(command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = proc_meminfo_gib()
    return dict(
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu,
        cores=os.cpu_count(),
        memory_gib=memory,
        kernel=platform.release(),
        os=first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        rustc=first_line(["rustc", "--version"]),
        postgres=first_line(["psql", "-h", HOST, "-U", "postgres", "-Atc", "show server_version"]),
        wrk=first_line(["sh", "-c", "wrk -v 2>&1"]),
    )


def proc_meminfo_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "–"


def cmd_report(args):
    results = load(args.results)
    statements = load(args.statements) if args.statements and os.path.exists(args.statements) else {}
    info = results.get("machine") or machine()
    info.update({k: v for k, v in (results.get("versions") or {}).items()})
    results["machine"] = info
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    s = results.get("settings", {})
    out = []
    out.append("# Benchmark results\n")
    out.append(
        "Made by `bench/run"
        + (f" {args.command_line}" if args.command_line else "")
        + "`; regenerate with `bench/run --write-results`. "
        "All servers read the same PostgreSQL database (the same rows, from `embhub seed --bench`), "
        "on 127.0.0.1, each with a pool of the same size; embhub runs in production mode "
        "with its JWT checks, access rules and audit on (rate limits raised so they never refuse).\n"
    )
    out.append("## Machine\n")
    out.append(f"- date: {info['date']}")
    out.append(f"- CPU: {info['cpu']}, {info['cores']} cores (`nproc`); memory {info['memory_gib']} GiB")
    out.append(f"- OS: {info['os']}, kernel {info['kernel']}")
    out.append(f"- PostgreSQL {info['postgres']}; {info['rustc']}; {info['wrk']}")
    for key in ("node", "postgraphile", "embhub_commit", "concurrent_builds", "autovacuum", "data"):
        if info.get(key):
            out.append(f"- {key.replace('_', ' ')}: {info[key]}")
    loads = [r["load1"] for w in results.get("workloads", {}).values() for x in w["servers"].values() for r in x["rounds"]]
    if loads:
        out.append(
            f"- load average (1 min) after each round: {min(loads):.1f}–{max(loads):.1f} "
            f"(the benchmark alone keeps it near 2–3 on 2 cores; more means other work ran beside it)"
        )
    out.append("")
    out.append("## Method\n")
    out.append(
        f"Each workload runs {s.get('rounds', '?')} rounds of {s.get('duration_s', '?')} s per server, "
        f"the servers alternating (the order rotates each round), after {s.get('warmup_s', '?')} s of "
        "warm-up per server; wrk with 2 threads. req/s is the mean of the rounds (min–max beside it), "
        "p50 and p99 the medians of the rounds' percentiles. Errors are socket errors, HTTP statuses "
        "other than 200 and 200s carrying GraphQL `errors`. Peak RSS is the server's VmHWM over the "
        "workload, reset before it to the current RSS (so it never reads below what the earlier "
        "workloads left resident: the servers run the workloads in the order of the tables). Before the load, every read workload was checked to return the "
        "same rows from every server (ids, field values; lists compared sorted). The raw server "
        "sends PostgreSQL's `json` text, which spaces its separators: its responses are a few per "
        "cent longer for the same content.\n"
    )
    out.append(
        "**SQL statements per request** are counted on the PostgreSQL side, the same way for all "
        "three: each server connects as its own role; in a separate phase (servers restarted "
        "afterwards) the roles have `log_statement = 'all'`, and after 3 warm-up requests the "
        "statements logged for the role over 20 sequential requests are counted and divided by 20. "
        "Every statement the server sends counts, transaction control (BEGIN, COMMIT) included. "
        "embhub on SQLite is not counted.\n"
    )
    out.append("## Summary\n")
    out.append("| workload | embhub | PostGraphile v5 | raw | embhub / PostGraphile | embhub / raw |")
    out.append("|---|---|---|---|---|---|")
    for name, w in results.get("workloads", {}).items():
        sv = w["servers"]
        e = sv.get("embhub") or sv.get("embhub_sqlite")
        cell = lambda x: f"{x['rps']:,.0f} req/s, p99 {x['p99_ms']:.0f} ms" if x else "–"  # noqa: E731
        p, r = sv.get("postgraphile"), sv.get("raw")
        out.append(
            f"| {name} | {cell(e)} | {cell(p)} | {cell(r)} | "
            f"{ratio(e['rps'], p['rps']) if e and p else '–'} | {ratio(e['rps'], r['rps']) if e and r else '–'} |"
        )
    inv = results.get("invite150", {})
    if inv:
        pg, lite = inv.get("embhub"), inv.get("embhub_sqlite")
        out.append(
            f"| invite150 (one call, 150 organizations) | PostgreSQL: median {pg['median_ms']:.0f} ms | – | – | "
            f"PostgreSQL / SQLite: {ratio(pg['median_ms'], lite['median_ms']) if pg and lite else '–'} "
            f"(SQLite median {lite['median_ms']:.0f} ms) | – |"
            if pg and lite
            else "| invite150 | see below | | | | |"
        )
    out.append("")
    for name, w in results.get("workloads", {}).items():
        out.append(f"## {name}: {TITLES.get(name, name)}\n")
        out.append("| server | req/s (min–max) | p50 ms | p99 ms | errors | SQL statements / request | peak RSS MB | response bytes |")
        out.append("|---|---|---|---|---|---|---|---|")
        for server, x in w["servers"].items():
            stmts = statements.get(f"{name}/{server}")
            stmts_cell = f"{stmts:.1f}" if stmts is not None else "–"
            out.append(
                f"| {LABELS.get(server, server)} | {x['rps']:,.1f} ({x['rps_min']:,.0f}–{x['rps_max']:,.0f}) | "
                f"{x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {x['errors']} | {stmts_cell} | "
                f"{x['peak_rss_mb']:.0f} | {x['bytes_per_request']:,.0f} |"
            )
        sv = w["servers"]
        e = sv.get("embhub") or sv.get("embhub_sqlite")
        notes = []
        if e and sv.get("postgraphile"):
            p = sv["postgraphile"]
            notes.append(f"embhub / PostGraphile: {ratio(e['rps'], p['rps'])} req/s, p99 {ratio(e['p99_ms'], p['p99_ms'])}")
        if e and sv.get("raw"):
            notes.append(f"embhub / raw: {ratio(e['rps'], sv['raw']['rps'])} req/s")
        if notes:
            out.append("\n" + "; ".join(notes) + ".")
        out.append("")
    if inv:
        out.append("## invite150: `inviteOrganizations` of 150 organizations, embhub only\n")
        out.append("Sequential calls, each on a fresh published event (created untimed), `send: true`.\n")
        out.append("| database | calls | median ms | p99 ms | min ms | SQL statements |")
        out.append("|---|---|---|---|---|---|")
        for server, x in inv.items():
            stmts = statements.get(f"invite150/{server}")
            out.append(
                f"| {'PostgreSQL' if server == 'embhub' else 'SQLite'} | {x['calls']} | {x['median_ms']:.1f} | "
                f"{x['p99_ms']:.1f} | {x['min_ms']:.1f} | {f'{stmts:.0f}' if stmts is not None else '–'} |"
            )
        out.append("")
    soak = results.get("soak")
    if soak:
        m = soak["minutes"]
        out.append(
            f"## Soak: embhub, dashboard reads at {soak['connections']} connections plus "
            f"~{soak['write_rate']} audited writes/s, {len(m)} minutes\n"
        )
        if soak.get("vacuumed_each_minute"):
            out.append(
                "autovacuum was off on this PostgreSQL: the soak ran VACUUM (ANALYZE) after each minute "
                "instead (dead rows are counted before it).\n"
            )
        out.append("| minute | reads/s | p99 ms | read errors | writes/s | write errors | RSS MB | peak RSS MB | dead rows |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in m:
            out.append(
                f"| {row['minute']} | {row['reads_rps']:.1f} | {row['p99_ms']:.1f} | {row['read_errors']} | "
                f"{row['writes_per_s']:.1f} | {row['write_errors']} | {row['rss_mb']:.1f} | {row['peak_rss_mb']:.1f} | "
                f"{row.get('dead_rows', '–')} |"
            )
        change = (m[-1]["reads_rps"] - m[0]["reads_rps"]) / m[0]["reads_rps"] * 100 if m[0]["reads_rps"] else 0
        out.append(f"\nLast minute against the first: {change:+.1f}% reads/s.\n")
    text = "\n".join(out).rstrip() + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


def cmd_set(args):
    """Records a fact about the run (versions, data sizes) in the results file."""
    results = load(args.results) if os.path.exists(args.results) else {}
    results.setdefault("versions", {})[args.key] = args.value
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, tokens=True):
        p.add_argument("--servers", required=True, help="servers.json: name -> port, pid, role")
        p.add_argument("--fixture", required=True, help="embhub seed --bench --json output (PostgreSQL)")
        p.add_argument("--fixture-sqlite", help="the same for the SQLite database")
        if tokens:
            p.add_argument("--tokens", required=True)

    p = sub.add_parser("tokens")
    common(p, tokens=False)
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_tokens)

    p = sub.add_parser("verify")
    common(p)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--pg-log", help="the PostgreSQL server log, to count statements")
    p.add_argument("--database", default="embhub_bench")
    p.add_argument("--count", type=int, default=20, help="requests counted per workload and server")
    p.add_argument("--invite", action="store_true", help="also count one inviteOrganizations call")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("measure")
    common(p)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--database", default="embhub_bench")
    p.add_argument("--work", required=True)
    p.add_argument("--results", required=True)
    p.set_defaults(run=cmd_measure)

    p = sub.add_parser("invite")
    common(p)
    p.add_argument("--calls", type=int, default=7)
    p.add_argument("--results", required=True)
    p.set_defaults(run=cmd_invite)

    p = sub.add_parser("soak")
    common(p)
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--database", default="embhub_bench")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--write-rate", type=float, default=20)
    p.add_argument("--work", required=True)
    p.add_argument("--results", required=True)
    p.set_defaults(run=cmd_soak)

    p = sub.add_parser("cpu")
    common(p)
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--on", default="embhub", help="comma-separated servers")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, help="default: the workload's")
    p.add_argument("--database", default="embhub_bench")
    p.add_argument("--work", required=True)
    p.set_defaults(run=cmd_cpu)

    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--statements")
    p.add_argument("--out")
    p.add_argument("--command-line", default="")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("set")
    p.add_argument("--results", required=True)
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(run=cmd_set)

    args = parser.parse_args()
    try:
        args.run(args)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: bench/run stops the servers


if __name__ == "__main__":
    main()
