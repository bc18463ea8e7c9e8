// Package port is oceand's client for Port's REST API.
//
// It speaks the protocol Ocean speaks (same routes, query parameters and
// User-Agent), so entities written by Python Ocean are adopted by oceand and
// the other way round. Port records the User-Agent of the request that wrote
// an entity as the entity's datasource; reconciliation finds "our" entities by
// that string, so it must match Ocean's byte for byte.
//
// # Retries
//
// Requests run in go-retryablehttp's loop with oceand's own policy:
//
//   - The answer is read inside the loop, so a connection reset while
//     reading it is retried like one before it.
//   - 429 is always retried: Port answers it without processing the
//     request. So is a connection that could not be opened.
//   - 408, 502, 503, 504 and other transport errors are retried for
//     requests that are safe to repeat (below). 500 and other 4xx are
//     final: Port would answer them again (Permanent tells them apart).
//   - A 401 fetches a new token and retries, again after each 401 as long
//     as the refused token worked at least once (for any request), up to
//     20 new tokens per request, apart from RetryMax. Requests refused with
//     the same token share one fetch. Tokens are refreshed before they
//     expire (TokenRefreshSkew, at most half their life), so a 401 only
//     follows a token Port dropped early.
//   - A 2xx answer that is not Port's JSON (empty, a proxy's page) is a
//     *BadAnswerError, retried like a transport error.
//   - Waits follow Retry-After, then on a 429 x-ratelimit-reset (seconds,
//     epoch seconds or a date) with up to 10% jitter; otherwise they grow
//     exponentially from RetryWaitMin with ±20% jitter. Every wait,
//     pacing included, is capped at RetryWaitMax (go-retryablehttp does not
//     cap Retry-After by itself).
//   - A cancelled context ends any wait, the request in flight and the
//     wait for a write slot or a token at once, and the call returns the
//     context's cause.
//   - Errors are *Error: route, last status, Port's error code and message,
//     the number of attempts and the cause.
//
// Safe to repeat, and retried on every retryable failure: every GET and
// DELETE; POST /auth/access_token (Port returns the same token); entity
// upserts, single and bulk (upsert=true: a replay gives the same entities,
// though a replayed item may report created=false); bulk delete (a replay
// deletes nothing more, but its deletedEntities then misses what the first
// attempt deleted); search and datasource listing (reads); PATCH
// .../resync-state (sets the same state; a lost "completed" would leave Port
// showing a running resync); PATCH /blueprints/{id} (a merge).
//
// Not repeated after Port may have processed them, only on 429 and when no
// connection was made: POST /integration and POST /blueprints (a replay
// answers 409), PATCH /integration/{id} and .../config (each may create a
// resync request, as in Ocean, which never retries a PATCH).
//
// # Pacing
//
// A Pacer reads x-ratelimit-limit/remaining/reset/period from every answer
// and slows requests down before Port has to answer 429; all requests of a
// Client share it. MaxConcurrentRequests bounds entity writes in flight.
//
// # Port's UI and metrics
//
// PostKindExamples, IngestLogs, PostSyncMetrics, PutKindSyncMetrics and
// PostHeartbeat send what Port's UI shows; the last four go to the ingest
// URLs of the integration record (logAttributes, metricAttributes) with the
// same token, outside the pacer. Log batches and heartbeats are sent once:
// the next one is worth more than a retry.
//
// An Observer (Config.Observer) is told about every attempt and every wait
// before a retry, by route template ("/blueprints/{blueprint}/entities/bulk"),
// never by URL: metrics plug in there without this package knowing them.
//
// The package imports no other oceand package.
package port
