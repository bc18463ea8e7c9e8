package emulator

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Identifier rules of Port's OpenAPI spec. Go's regexp has no lookahead, so
// the "(?!\.{1,2}$)" part (not "." or "..") is checked separately.
var (
	blueprintIDRE = regexp.MustCompile(`^[\p{L}0-9@_.+:\\/-]+$`)
	entityIDRE    = regexp.MustCompile(`^[\p{L}0-9@_.+:\\/=-]+$`)
	propertyIDRE  = regexp.MustCompile(`^[A-Za-z0-9@_=\\-]+$`)
	// emailRE is the "email" format of ajv, the validator Port's stack uses.
	emailRE = regexp.MustCompile(`(?i)^[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)
)

func validBlueprintID(id string) bool {
	return id != "." && id != ".." && utf8.RuneCountInString(id) <= 100 && blueprintIDRE.MatchString(id)
}

func validEntityID(id string) bool {
	return id != "." && id != ".." && utf8.RuneCountInString(id) <= 1000 && entityIDRE.MatchString(id)
}

func validPropertyID(id string) bool {
	return len(id) <= 100 && propertyIDRE.MatchString(id)
}

var (
	propertyTypes = set("string", "number", "boolean", "object", "array")
	itemTypes     = set("string", "number", "boolean", "object")
	formats       = set("date-time", "url", "email", "idn-email", "ipv4", "ipv6", "markdown", "yaml",
		"user", "blueprints", "team", "timer", "proto", "labeled-url")
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// validateBlueprint checks a full blueprint definition; it returns a
// message, or "" when the blueprint is valid. Port answers 422 to all of
// these.
func (s *Server) validateBlueprint(bp map[string]any) string {
	id, _ := bp["identifier"].(string)
	if !validBlueprintID(id) {
		return fmt.Sprintf("blueprint identifier %q must match %s, not be \".\" or \"..\", and be at most 100 characters", id, blueprintIDRE)
	}
	title, ok := bp["title"].(string)
	if !ok || title == "" || utf8.RuneCountInString(title) > 100 {
		return "blueprint title is required and must be 1 to 100 characters"
	}
	if d, ok := bp["description"].(string); ok && utf8.RuneCountInString(d) > 200 {
		return "blueprint description must be at most 200 characters"
	}
	schema, ok := bp["schema"].(map[string]any)
	if !ok {
		return "blueprint schema is required and must be an object"
	}
	for k := range schema {
		if k != "properties" && k != "required" {
			return fmt.Sprintf("schema has an unknown key %q (only properties and required)", k)
		}
	}
	props, _ := schema["properties"].(map[string]any)
	if _, has := schema["properties"]; has && props == nil {
		return "schema.properties must be an object"
	}
	for pid, def := range props {
		if !validPropertyID(pid) {
			return fmt.Sprintf("property identifier %q must match %s and be at most 100 characters", pid, propertyIDRE)
		}
		if msg := validatePropertyDef(pid, def); msg != "" {
			return msg
		}
	}
	if req, has := schema["required"]; has {
		list, ok := req.([]any)
		if !ok {
			return "schema.required must be an array of property identifiers"
		}
		for _, r := range list {
			name, ok := r.(string)
			if !ok || props[name] == nil {
				return fmt.Sprintf("schema.required lists %v, which is not a property of the blueprint", r)
			}
		}
	}
	rels, _ := bp["relations"].(map[string]any)
	if _, has := bp["relations"]; has && bp["relations"] != nil && rels == nil {
		return "relations must be an object"
	}
	for rid, def := range rels {
		if !validPropertyID(rid) {
			return fmt.Sprintf("relation identifier %q must match %s and be at most 100 characters", rid, propertyIDRE)
		}
		d, ok := def.(map[string]any)
		if !ok {
			return fmt.Sprintf("relation %s must be an object", rid)
		}
		target, ok := d["target"].(string)
		if !ok {
			return fmt.Sprintf("relation %s has no target", rid)
		}
		if target != id && s.blueprints[target] == nil {
			return fmt.Sprintf("relation %s targets blueprint %q, which does not exist", rid, target)
		}
		for _, k := range []string{"many", "required"} {
			if v, has := d[k]; has {
				if _, ok := v.(bool); !ok {
					return fmt.Sprintf("relation %s: %s must be a boolean", rid, k)
				}
			}
		}
		if d["many"] == true && d["required"] == true {
			return fmt.Sprintf("relation %s cannot be both many and required", rid)
		}
	}
	return ""
}

func validatePropertyDef(pid string, def any) string {
	d, ok := def.(map[string]any)
	if !ok {
		return fmt.Sprintf("property %s must be an object", pid)
	}
	typ, _ := d["type"].(string)
	if !propertyTypes[typ] {
		return fmt.Sprintf("property %s: type must be one of string, number, boolean, object, array", pid)
	}
	if f, has := d["format"]; has {
		fs, _ := f.(string)
		if !formats[fs] {
			return fmt.Sprintf("property %s: unknown format %v", pid, f)
		}
	}
	if e, has := d["enum"]; has {
		if _, ok := e.([]any); !ok {
			return fmt.Sprintf("property %s: enum must be an array", pid)
		}
	}
	if it, has := d["items"]; has {
		im, ok := it.(map[string]any)
		if !ok || !itemTypes[fmt.Sprint(im["type"])] {
			return fmt.Sprintf("property %s: items must be an object whose type is string, number, boolean or object", pid)
		}
	}
	return ""
}

// checkValue validates one property value against its definition. It
// returns a message naming the property, or "".
func checkValue(name string, def map[string]any, v any) string {
	if v == nil {
		return ""
	}
	typ, _ := def["type"].(string)
	if msg := checkType(typ, v); msg != "" {
		return fmt.Sprintf("property %q %s, got %s", name, msg, describe(v))
	}
	if e, ok := def["enum"].([]any); ok && !inList(v, e) {
		return fmt.Sprintf("property %q must be one of %v, got %s", name, e, describe(v))
	}
	switch typ {
	case "string":
		return checkString(name, def, v.(string))
	case "number":
		return checkNumber(name, def, v.(float64))
	case "array":
		return checkArray(name, def, v.([]any))
	}
	return ""
}

func checkType(typ string, v any) string {
	ok := false
	switch typ {
	case "string":
		_, ok = v.(string)
	case "number":
		_, ok = v.(float64)
	case "boolean":
		_, ok = v.(bool)
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	default:
		return ""
	}
	if !ok {
		return "must be of type " + typ
	}
	return ""
}

func checkString(name string, def map[string]any, s string) string {
	if f, _ := def["format"].(string); f != "" && !validFormat(f, s) {
		return fmt.Sprintf("property %q must be a valid %s, got %q", name, f, clip(s))
	}
	n := float64(utf8.RuneCountInString(s))
	if m, ok := def["minLength"].(float64); ok && n < m {
		return fmt.Sprintf("property %q must be at least %v characters long", name, m)
	}
	if m, ok := def["maxLength"].(float64); ok && n > m {
		return fmt.Sprintf("property %q must be at most %v characters long", name, m)
	}
	if p, ok := def["pattern"].(string); ok {
		// Port's patterns are JavaScript regexes; one Go cannot compile
		// (lookarounds, backreferences) is not checked rather than
		// rejecting valid data.
		if re, err := regexp.Compile(p); err == nil && !re.MatchString(s) {
			return fmt.Sprintf("property %q must match pattern %s, got %q", name, p, clip(s))
		}
	}
	return ""
}

func validFormat(format, s string) bool {
	switch format {
	case "date-time", "timer":
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "url":
		u, err := url.Parse(s)
		return err == nil && u.Scheme != "" && u.Host != ""
	case "email":
		return emailRE.MatchString(s)
	case "idn-email":
		at := strings.LastIndex(s, "@")
		return at > 0 && at < len(s)-1
	case "ipv4":
		ip := net.ParseIP(s)
		return ip != nil && ip.To4() != nil && !strings.Contains(s, ":")
	case "ipv6":
		return net.ParseIP(s) != nil && strings.Contains(s, ":")
	}
	return true
}

func checkNumber(name string, def map[string]any, n float64) string {
	if m, ok := def["minimum"].(float64); ok && n < m {
		return fmt.Sprintf("property %q must be >= %v, got %v", name, m, n)
	}
	if m, ok := def["maximum"].(float64); ok && n > m {
		return fmt.Sprintf("property %q must be <= %v, got %v", name, m, n)
	}
	// exclusiveMinimum/Maximum: a number (JSON Schema draft 6+) or a
	// boolean modifying minimum/maximum (draft 4).
	switch m := def["exclusiveMinimum"].(type) {
	case float64:
		if n <= m {
			return fmt.Sprintf("property %q must be > %v, got %v", name, m, n)
		}
	case bool:
		if lo, ok := def["minimum"].(float64); ok && m && n <= lo {
			return fmt.Sprintf("property %q must be > %v, got %v", name, lo, n)
		}
	}
	switch m := def["exclusiveMaximum"].(type) {
	case float64:
		if n >= m {
			return fmt.Sprintf("property %q must be < %v, got %v", name, m, n)
		}
	case bool:
		if hi, ok := def["maximum"].(float64); ok && m && n >= hi {
			return fmt.Sprintf("property %q must be < %v, got %v", name, hi, n)
		}
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Sprintf("property %q must be a finite number", name)
	}
	return ""
}

func checkArray(name string, def map[string]any, a []any) string {
	n := float64(len(a))
	if m, ok := def["minItems"].(float64); ok && n < m {
		return fmt.Sprintf("property %q must have at least %v items, got %d", name, m, len(a))
	}
	if m, ok := def["maxItems"].(float64); ok && n > m {
		return fmt.Sprintf("property %q must have at most %v items, got %d", name, m, len(a))
	}
	if u, _ := def["uniqueItems"].(bool); u {
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if equalValues(a[i], a[j]) {
					return fmt.Sprintf("property %q must have unique items; %s appears twice", name, describe(a[i]))
				}
			}
		}
	}
	if items, ok := def["items"].(map[string]any); ok {
		for i, it := range a {
			if it == nil {
				return fmt.Sprintf("property %q: item %d must not be null", name, i)
			}
			if msg := checkValue(fmt.Sprintf("%s[%d]", name, i), items, it); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func inList(v any, list []any) bool {
	for _, e := range list {
		if equalValues(v, e) {
			return true
		}
	}
	return false
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", clip(t))
	case float64:
		return fmt.Sprintf("number %v", t)
	case bool:
		return fmt.Sprintf("boolean %v", t)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
