package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// SourceKind says which kind of source a setting's value came from.
type SourceKind int

// Kinds of source, lowest precedence first.
const (
	FromDefault SourceKind = iota
	FromFile               // config.yaml
	FromDotEnv             // the .env file
	FromEnv                // the process environment
	FromFlag               // the command line
)

var sourceKindNames = [...]string{"default", "file", "dotenv", "env", "flag"}

func (k SourceKind) String() string {
	if int(k) < len(sourceKindNames) {
		return sourceKindNames[k]
	}
	return "unknown"
}

// Origin is where a setting's value came from.
type Origin struct {
	Kind SourceKind
	// File is config.yaml's or .env's path as given.
	File string
	// Line and Column locate the value in File (Column is 0 for .env).
	Line, Column int
	// Var is the environment variable: OCEAN__… for env and .env, the
	// variable a {{ from env NAME }} template read for a file.
	Var string
}

// String says where a value came from: "default", "config.yaml:7:12",
// "config.yaml:7:12 (env PORT_CLIENT_ID)", ".env:3 OCEAN__X",
// "env OCEAN__X" or "flag".
func (o Origin) String() string {
	switch o.Kind {
	case FromDefault:
		return "default"
	case FromFile:
		s := o.position()
		if o.Var != "" {
			s += " (env " + o.Var + ")"
		}
		return s
	case FromDotEnv:
		if o.Var == "" {
			return o.position()
		}
		return o.position() + " " + o.Var
	case FromEnv:
		return "env " + o.Var
	case FromFlag:
		return "flag"
	}
	return o.Kind.String()
}

func (o Origin) position() string {
	s := o.File
	if o.Line > 0 {
		s += ":" + strconv.Itoa(o.Line)
		if o.Column > 0 {
			s += ":" + strconv.Itoa(o.Column)
		}
	}
	return s
}

// MarshalJSON writes the origin as an object for scripts.
func (o Origin) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": o.Kind.String()}
	if o.File != "" {
		m["file"] = o.File
	}
	if o.Line > 0 {
		m["line"] = o.Line
	}
	if o.Column > 0 {
		m["column"] = o.Column
	}
	if o.Var != "" {
		m["env"] = o.Var
	}
	return json.Marshal(m)
}

type valueKind int

const (
	scalarValue valueKind = iota
	objectValue
	listValue
)

// value is one node of a settings tree, as one source gave it.
type value struct {
	kind   valueKind
	scalar any // string, bool, float64 or nil
	fields map[string]*value
	items  []*value
	origin Origin
	// key is the key as written, before decamelizing; keyAt is where.
	key   string
	keyAt Origin
	// tmpl is an unresolved {{ from PROVIDER ARG }} (a file scalar).
	tmpl *template
}

func newObject(o Origin) *value {
	return &value{kind: objectValue, fields: map[string]*value{}, origin: o}
}

func newScalar(v any, o Origin) *value {
	return &value{kind: scalarValue, scalar: v, origin: o}
}

// sortedKeys returns an object's keys in order, for stable output.
func (v *value) sortedKeys() []string {
	return slices.Sorted(maps.Keys(v.fields))
}

// merge deep-merges src over dst: objects key by key, anything else is
// replaced. dst is modified and returned.
func merge(dst, src *value) *value {
	if src == nil {
		return dst
	}
	if dst != nil && src.kind == scalarValue && src.scalar == nil && src.tmpl == nil {
		return dst // null means "not set": the lower source's value stays
	}
	if dst == nil || dst.kind != objectValue || src.kind != objectValue {
		return src
	}
	for k, sv := range src.fields {
		dst.fields[k] = merge(dst.fields[k], sv)
	}
	return dst
}

// fromJSON turns a decoded JSON (or YAML) value into a tree, every node
// with origin o.
func fromJSON(v any, o Origin) *value {
	switch t := v.(type) {
	case map[string]any:
		obj := newObject(o)
		for k, e := range t {
			c := fromJSON(e, o)
			c.key = k
			c.keyAt = o
			obj.fields[k] = c
		}
		return obj
	case []any:
		l := &value{kind: listValue, origin: o}
		for _, e := range t {
			l.items = append(l.items, fromJSON(e, o))
		}
		return l
	default:
		return newScalar(plainScalar(v), o)
	}
}

// plainScalar converts decoder number types to float64, as JSON would, so
// values can be compared and handed to jq.
func plainScalar(v any) any {
	switch t := v.(type) {
	case nil, string, bool:
		return t
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			// .nan and .inf have no JSON form; keep them as text.
			return strconv.FormatFloat(t, 'g', -1, 64)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return plainScalar(float64(t))
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return t.String()
		}
		return f
	}
	return fmt.Sprint(v)
}

// plain converts a tree back into plain Go values (map[string]any, []any,
// string, bool, float64, nil).
func (v *value) plain() any {
	if v == nil {
		return nil
	}
	switch v.kind {
	case objectValue:
		m := make(map[string]any, len(v.fields))
		for k, e := range v.fields {
			m[k] = e.plain()
		}
		return m
	case listValue:
		l := make([]any, len(v.items))
		for i, e := range v.items {
			l[i] = e.plain()
		}
		return l
	}
	return v.scalar
}

// describe names a value's type for error messages, without its content.
func (v *value) describe() string {
	switch v.kind {
	case objectValue:
		return "an object"
	case listValue:
		return "a list"
	}
	switch v.scalar.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	}
	return "a string"
}
