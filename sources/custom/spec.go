package custom

import _ "embed"

// SpecYAML is the custom source's spec.yaml: its integration.config
// settings, their types, defaults and which are sensitive.
//
//go:embed resources/spec.yaml
var SpecYAML []byte
