package custom

// SpecYAML is a TEMPORARY stand-in: replaced by the HTTP half (spec.go,
// go:embed of resources/spec.yaml). The coordinator deletes this file at
// merge.
var SpecYAML []byte
