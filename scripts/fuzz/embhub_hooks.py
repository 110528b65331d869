"""schemathesis hooks for embhub (loaded by scripts/fuzz.sh via SCHEMATHESIS_HOOKS).

- Strategies for the custom scalars (chrono's NaiveDate and DateTime), which
  schemathesis cannot generate on its own.
- `no_server_fault`: replaces schemathesis' not_a_server_error, which counts every
  GraphQL `errors` entry as a server failure. embhub's field errors are answers
  (BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, CONFLICT each carry a code); what must
  never happen is a 5xx, an INTERNAL code, an error without a code, or a body that
  is not a GraphQL response.
"""

import json

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

dates = st.dates().map(lambda d: d.isoformat())
schemathesis.graphql.scalar("NaiveDate", st.one_of(dates, st.text(max_size=12)).map(nodes.String))
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.text(max_size=30),
    ).map(nodes.String),
)

EXPECTED_CODES = {
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "FORBIDDEN",
    "CONFLICT",
    "UNAUTHENTICATED",
    "BAD_REQUEST",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_COMPLEX",
    "TOO_MANY_ALIASES",
    "TOO_MANY_DIRECTIVES",
    "DOCUMENT_TOO_LARGE",
    "INTROSPECTION_DISABLED",
    "RATE_LIMITED",
}


@schemathesis.check
def no_server_fault(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"server error {response.status_code}: {response.text[:300]}")
    try:
        body = json.loads(response.text)
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:300]}")
    if not isinstance(body, dict) or not ("data" in body or "errors" in body):
        raise AssertionError(f"not a GraphQL response: {response.text[:300]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in EXPECTED_CODES:
            raise AssertionError(f"unexpected error code {code!r}: {error}")
