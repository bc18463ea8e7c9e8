package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/goccy/go-yaml"
)

// Config is the port app config ("the mapping") as Port stores it in the
// integration record. Field names and defaults are Ocean's.
type Config struct {
	EnableMergeEntity            bool       `json:"enableMergeEntity"`
	DeleteDependentEntities      bool       `json:"deleteDependentEntities"`
	CreateMissingRelatedEntities bool       `json:"createMissingRelatedEntities"`
	EntityDeletionThreshold      float64    `json:"entityDeletionThreshold"`
	Resources                    []Resource `json:"resources"`
}

// Resource is one entry of Config.Resources: which kind to fetch, which items
// to keep and how to turn each into entities.
type Resource struct {
	Kind     string       `json:"kind"`
	Selector Selector     `json:"selector"`
	Port     PortResource `json:"port"`
}

// Selector holds the jq query that keeps or drops an item. Sources may define
// extra selector keys (a path, a page size); they are kept verbatim in Raw.
type Selector struct {
	Query string
	Raw   map[string]any
}

// UnmarshalJSON keeps every selector key, so sources can read their own.
func (s *Selector) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	s.Raw = raw
	s.Query = ""
	if q, ok := raw["query"]; ok {
		str, ok := q.(string)
		if !ok {
			return fmt.Errorf("selector.query must be a string, got %T", q)
		}
		s.Query = str
	}
	return nil
}

// MarshalJSON writes the selector back with all its keys.
func (s Selector) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(s.Raw)+1)
	for k, v := range s.Raw {
		out[k] = v
	}
	out["query"] = s.Query
	return json.Marshal(out)
}

// PortResource is the `port:` block of a resource.
type PortResource struct {
	Entity                        EntityConfig `json:"entity"`
	ItemsToParse                  string       `json:"itemsToParse,omitempty"`
	ItemsToParseName              string       `json:"itemsToParseName,omitempty"`
	ItemsToParseTopLevelTransform *bool        `json:"itemsToParseTopLevelTransform,omitempty"`
}

// EntityConfig is `port.entity`. Port accepts one mapping or a list of them.
type EntityConfig struct {
	Mappings []EntityMapping `json:"mappings"`
}

// UnmarshalJSON accepts `mappings` as an object or an array of objects.
func (e *EntityConfig) UnmarshalJSON(b []byte) error {
	var raw struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := bytes.TrimSpace(raw.Mappings)
	if len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return fmt.Errorf("port.entity.mappings is required")
	}
	if m[0] == '[' {
		return json.Unmarshal(m, &e.Mappings)
	}
	var one EntityMapping
	if err := json.Unmarshal(m, &one); err != nil {
		return err
	}
	e.Mappings = []EntityMapping{one}
	return nil
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

// EntityMapping is `port.entity.mappings`. Identifier, Team and relation
// values are either a jq string or a search query object
// ({combinator, rules}) whose leaves are jq strings.
type EntityMapping struct {
	Identifier any               `json:"identifier"`
	Title      *string           `json:"title,omitempty"`
	Icon       *string           `json:"icon,omitempty"`
	Blueprint  string            `json:"blueprint"`
	Team       any               `json:"team,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	Relations  map[string]any    `json:"relations,omitempty"`
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
// Ocean's defaults.
func ParseJSON(b []byte) (*Config, error) {
	cfg := DefaultConfig()
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse mapping: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// ParseYAML decodes a port app config file (port-app-config.yml).
func ParseYAML(b []byte) (*Config, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("parse mapping: %w", err)
	}
	return ParseJSON(j)
}

func (c *Config) validate() error {
	if c.EntityDeletionThreshold < 0 || c.EntityDeletionThreshold > 1 {
		return fmt.Errorf("entityDeletionThreshold: must be between 0 and 1, got %v", c.EntityDeletionThreshold)
	}
	for i, r := range c.Resources {
		if r.Kind == "" {
			return fmt.Errorf("resources[%d].kind: required", i)
		}
		if len(r.Port.Entity.Mappings) == 0 {
			return fmt.Errorf("resources[%d] (kind %s): port.entity.mappings: required", i, r.Kind)
		}
		for j, m := range r.Port.Entity.Mappings {
			if m.Identifier == nil {
				return fmt.Errorf("resources[%d] (kind %s): port.entity.mappings[%d].identifier: required", i, r.Kind, j)
			}
			if m.Blueprint == "" {
				return fmt.Errorf("resources[%d] (kind %s): port.entity.mappings[%d].blueprint: required", i, r.Kind, j)
			}
		}
	}
	return nil
}
