package mapping

import (
	"bytes"
	"encoding/json"
	"maps"
)

// Config is the port app config ("the mapping") as Port stores it in the
// integration record. Keys and defaults are Ocean's; encoding it gives what
// Ocean sends Port (PortAppConfig.to_request).
type Config struct {
	EnableMergeEntity            bool       `json:"enableMergeEntity"`
	DeleteDependentEntities      bool       `json:"deleteDependentEntities"`
	CreateMissingRelatedEntities bool       `json:"createMissingRelatedEntities"`
	EntityDeletionThreshold      float64    `json:"entityDeletionThreshold"`
	Resources                    []Resource `json:"resources"`
	// Extra holds top-level keys oceand does not know (integrations define
	// their own); they are kept and sent back as they came.
	Extra map[string]any `json:"-"`

	warnings []Problem
}

// Warnings lists what was accepted but is probably a mistake (an unknown
// key, a transform that skips every item), with where it is written.
func (c *Config) Warnings() []Problem { return c.warnings }

// MarshalJSON writes the known keys and Extra.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	out := make(map[string]json.RawMessage, len(c.Extra)+5)
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		if _, known := out[k]; known {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = raw
	}
	return json.Marshal(out)
}

// Resource is one entry of Config.Resources: which kind to fetch, which items
// to keep and how to turn each into entities.
type Resource struct {
	Kind     string       `json:"kind"`
	Selector Selector     `json:"selector"`
	Port     PortResource `json:"port"`

	// src places the resource's values in the file it was read from;
	// path is the resource's path there ("resources[2]").
	src  *sourceMap
	path string
}

// pos is where field (a path inside the resource) is written.
func (r *Resource) pos(field string) Pos { return r.src.pos(r.path + "." + field) }

// Selector holds the jq query that keeps or drops an item. Sources may define
// extra selector keys (a path, a page size); Raw keeps every key, query
// included, with JSON values (numbers as float64).
type Selector struct {
	Query string
	Raw   map[string]any
}

// MarshalJSON writes the selector back with all its keys.
func (s Selector) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(s.Raw)+1)
	maps.Copy(out, s.Raw)
	out["query"] = s.Query
	return json.Marshal(out)
}

// UnmarshalJSON reads a selector as Port stores it.
func (s *Selector) UnmarshalJSON(b []byte) error {
	v, err := decodeJSON(b)
	if err != nil {
		return err
	}
	d := &decoder{}
	*s = d.selector("selector", v)
	return d.err()
}

// PortResource is the `port:` block of a resource.
type PortResource struct {
	Entity EntityConfig `json:"entity"`
	// ItemsToParse is a jq expression giving a list; each element is
	// mapped as the item with ItemsToParseName set to the element.
	ItemsToParse string `json:"itemsToParse,omitempty"`
	// ItemsToParseName defaults to "item" (empty means the default).
	ItemsToParseName string `json:"itemsToParseName,omitempty"`
	// ItemsToParseTopLevelTransform (default true) removes the parsed list
	// from the item first.
	ItemsToParseTopLevelTransform *bool `json:"itemsToParseTopLevelTransform,omitempty"`
}

// EntityConfig is `port.entity`. Ocean reads one mapping; Port also stores
// a list of them, each giving one entity per item.
type EntityConfig struct {
	Mappings []EntityMapping `json:"mappings"`
}

// MarshalJSON writes a single mapping as an object, as Ocean does.
func (e EntityConfig) MarshalJSON() ([]byte, error) {
	if len(e.Mappings) == 1 {
		return json.Marshal(struct {
			Mappings EntityMapping `json:"mappings"`
		}{e.Mappings[0]})
	}
	return json.Marshal(struct {
		Mappings []EntityMapping `json:"mappings"`
	}{e.Mappings})
}

// EntityMapping is `port.entity.mappings`. Every string is a jq program.
// Identifier, Team and relation values are either a string or a search
// query: map[string]any{"combinator": string, "rules": []any{...}} whose
// rules are {"property", "operator", "value"} maps of strings or nested
// queries. A nil Properties or Relations map was not set: the entity has no
// such key; an empty one was set empty.
type EntityMapping struct {
	Identifier any               `json:"identifier"`
	Title      *string           `json:"title,omitempty"`
	Icon       *string           `json:"icon,omitempty"`
	Blueprint  string            `json:"blueprint"`
	Team       any               `json:"team,omitempty"`
	Properties map[string]string `json:"properties,omitzero"`
	Relations  map[string]any    `json:"relations,omitzero"`
}

// DefaultConfig returns a Config with Ocean's defaults and no resources.
func DefaultConfig() Config {
	return Config{
		EnableMergeEntity:            true,
		DeleteDependentEntities:      true,
		CreateMissingRelatedEntities: true,
		EntityDeletionThreshold:      0.9,
		Resources:                    []Resource{},
	}
}

// ParseJSON decodes a port app config as Port returns it. Absent flags take
// Ocean's defaults. Every problem is reported at once, in a *ParseError.
func ParseJSON(b []byte) (*Config, error) {
	v, err := decodeJSON(b)
	if err != nil {
		return nil, &ParseError{Problems: []Problem{{Message: "invalid JSON: " + err.Error()}}}
	}
	return decodeConfig(v, nil)
}

// ParseYAML decodes a port app config file (port-app-config.yml).
func ParseYAML(b []byte) (*Config, error) { return ParseFile("", b) }

// ParseFile decodes a mapping file, YAML or JSON, named file in errors.
// Every value keeps its line and column, so problems found now and jq
// errors found by Compile point into the file.
func ParseFile(file string, b []byte) (*Config, error) {
	v, src, warnings, err := readYAML(file, b)
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfig(v, src)
	if err != nil {
		return nil, err
	}
	cfg.warnings = append(warnings, cfg.warnings...)
	return cfg, nil
}

// decodeJSON reads JSON keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// UnmarshalJSON reads a port app config as Port stores it, like ParseJSON.
func (c *Config) UnmarshalJSON(b []byte) error {
	cfg, err := ParseJSON(b)
	if err != nil {
		return err
	}
	*c = *cfg
	return nil
}
