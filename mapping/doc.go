// Package mapping turns raw third-party items into Port entities.
//
// The model is Ocean's port app config: an ordered list of resources, each with
// a kind, a jq selector that must yield a boolean, and an entity mapping whose
// every leaf is a jq program. A program's first output is the value; an error
// or no output gives null and a counted misconfiguration, never a failed
// resync. Programs are compiled once per mapping and are safe to evaluate from
// many goroutines.
//
// The package imports no other oceand package: it is pure data in, data out.
package mapping
