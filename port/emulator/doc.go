// Package emulator is an in-memory Port API served over real HTTP.
//
// It enforces what a daemon depends on, so that passing against it means
// something: the checklist at the end of reference/port-api.md. Tests,
// `oceand demo`, `oceand bench` and `oceand port-emulator` use it; it is also
// how a user tries a mapping without a Port account.
//
// # What it enforces
//
//   - Auth: the configured client id and secret only; JWT-shaped tokens
//     with expiresIn, the same token until it expires; 401 on a missing,
//     unknown or expired token.
//   - Envelopes: {ok: true, ...} on success, {ok: false, error, message}
//     on failure; 413 bad_request over 1 MiB.
//   - Integration record: stored and echoed field by field; resync
//     requests from an empty PATCH or a config change (unless
//     x-skip-resync: true), delivered to a WEBHOOK changelog destination.
//   - Blueprints: identifier, title, property and relation validation
//     (422 invalid_request), 409 identifier_taken, PATCH merges.
//   - Entities: identifier regexes (422 invalid_request), property schema
//     (type, format, enum, pattern, lengths, bounds, items, required;
//     defaults applied on create; 422 blueprint_schema_mismatch),
//     relations (unknown 422, array to a single relation 422
//     relation_many_violation, missing required 422 required_relation,
//     missing target 404 not_found unless create_missing_related_entities),
//     search identifiers and relations, upsert / merge / replace /
//     validation_only, bulk 1..20 with 200 or 207 per-item results,
//     deletes with has_dependents or a cascade, bulk delete 1..100.
//   - Ownership: each write records its User-Agent as a datasource, used by
//     $datasource search rules and the datasource-entities listing (prefix,
//     suffix, limit, from/next cursor, before).
//   - Search: nested and/or, the operators daemons use, meta-properties,
//     include and exclude.
//   - Rate limits (Config.RateLimit, off by default): fixed windows with
//     x-ratelimit-period/limit/remaining/reset and 429 with Retry-After.
//   - Visibility: raw data examples per kind, shipped log records, sync
//     metrics (a POST per resync, a PUT per kind) and heartbeats are
//     stored, bounded, and served without a token on the admin routes
//     under /_emulator/integrations/{id}/ (examples, logs, sync-metrics,
//     heartbeats). The ingest routes require a token.
//
// # Decisions where Port is silent
//
// Properties a blueprint does not declare are accepted and stored
// (Config.UndeclaredProperties can drop or reject them instead). Evidence:
// Ocean's fake integration maps `name` and `department` onto fake-person,
// whose blueprint declares neither, and Ocean's smoke test
// (port_ocean/tests/test_smoke.py) runs it against real Port and asserts
// that the persons exist with their department relation; a 422 would have
// failed every person. Whether Port keeps or drops such values is not
// observable from there.
//
// Error codes Port does not document: 401 "unauthorized", 429
// "rate_limited", a blueprint that is still in use "has_entities".
//
// # Tests
//
// InjectFault makes requests fail (status codes with headers, latency,
// held requests, connection resets before or in the middle of the answer,
// token expiry); Requests counts requests per route pattern. Transport
// serves the API in-process, for tests under testing/synctest.
package emulator
