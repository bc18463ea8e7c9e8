// Package port is oceand's client for Port's REST API.
//
// It speaks the protocol Ocean speaks (same routes, query parameters and
// User-Agent), so entities written by Python Ocean are adopted by oceand and
// the other way round. Port records the User-Agent of the request that wrote
// an entity as the entity's datasource; reconciliation finds "our" entities by
// that string, so it must match Ocean's byte for byte.
//
// Requests are retried on 408, 429, 502, 503, 504 and transport errors with
// capped, jittered backoff; a 401 refreshes the token once. The package
// imports no other oceand package.
package port
