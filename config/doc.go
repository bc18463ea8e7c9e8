// Package config loads oceand's settings the way Ocean loads its own, so an
// existing deployment's config.yaml, .env and OCEAN__ variables work as they
// are.
//
// Sources, highest precedence first: command-line flags, the process
// environment (OCEAN__ prefix, __ nesting, case-insensitive, whole objects as
// JSON), the .env file, config.yaml (camelCase keys, {{ from env NAME }}
// templates), then defaults. Nested objects are merged key by key. Keys are
// normalised to snake_case as Ocean's decamelize does (clientId -> client_id,
// thirdPartyLatencyMS -> third_party_latency_ms).
package config
