// Package config loads oceand's settings the way Ocean loads its own, so an
// existing deployment's config.yaml, .env and OCEAN__ variables work as they
// are (docs/settings.md has the rules and every setting).
//
// Each source becomes a tree whose nodes remember where they were written
// (file:line:column, variable, flag). The trees are merged deeply, lowest
// precedence first: defaults, config.yaml, .env, the environment, flags.
// {{ from env NAME }} templates are then resolved, and the tree is decoded
// into Settings, collecting every problem instead of stopping at the first.
// Keys are normalised to snake_case as Ocean's decamelize does (clientId ->
// client_id, thirdPartyLatencyMS -> third_party_latency_ms). config.yaml
// is read within internal/yamlsafe's limits; a key written twice keeps
// the second value, as Ocean's PyYAML does, with a warning.
//
// The Settings struct is the schema: a setting is a field whose tags give
// its name, default, and whether it is required, secret or ignored. What
// the package does not know is each source's spec: Settings.ApplySpec
// takes its bytes and checks integration.config against it.
package config
