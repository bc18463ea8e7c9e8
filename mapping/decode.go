package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// The decoder reads a port app config from a generic tree (JSON from Port,
// or YAML decoded by goccy/go-yaml) and checks it the way Ocean's pydantic
// models do, but reports every problem at once with its path and, for
// files, its line and column. Where pydantic would coerce (a number where a
// string is expected, "yes" for a boolean), the decoder coerces too.

type decoder struct {
	src      *sourceMap
	problems []Problem
	warnings []Problem
}

func (d *decoder) problem(path, format string, args ...any) {
	d.problems = append(d.problems, d.at(path, fmt.Sprintf(format, args...)))
}

// warnKey warns about a key, placed at the key.
func (d *decoder) warnKey(path, format string, args ...any) {
	p := d.at(path, fmt.Sprintf(format, args...))
	kp := d.src.keyPos(path)
	p.Line, p.Column = kp.Line, kp.Column
	d.warnings = append(d.warnings, p)
}

func (d *decoder) at(path, msg string) Problem {
	p := d.src.pos(path)
	file := ""
	if d.src != nil {
		file = d.src.file
	}
	return Problem{File: file, Line: p.Line, Column: p.Column, Path: path, Message: msg}
}

func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	return &ParseError{Problems: d.problems}
}

// Known keys, for "did you mean" suggestions.
var (
	configKeys   = []string{"enableMergeEntity", "deleteDependentEntities", "createMissingRelatedEntities", "entityDeletionThreshold", "resources"}
	resourceKeys = []string{"kind", "selector", "port"}
	portKeys     = []string{"entity", "itemsToParse", "itemsToParseName", "itemsToParseTopLevelTransform"}
	entityKeys   = []string{"mappings"}
	mappingKeys  = []string{"identifier", "title", "icon", "blueprint", "team", "properties", "relations"}
	queryKeys    = []string{"combinator", "rules"}
	ruleKeys     = []string{"property", "operator", "value"}
)

func decodeConfig(v any, src *sourceMap) (*Config, error) {
	d := &decoder{src: src}
	cfg := DefaultConfig()
	obj, ok := asObject(v)
	if !ok {
		if v == nil {
			d.problem("", "the mapping is empty")
		} else {
			d.problem("", "the mapping must be an object with a resources list, got %s", describe(v))
		}
		return nil, d.err()
	}
	for _, k := range sortedKeys(obj) {
		val := obj[k]
		switch k {
		case "enableMergeEntity":
			cfg.EnableMergeEntity = d.boolean(k, val, true)
		case "deleteDependentEntities":
			cfg.DeleteDependentEntities = d.boolean(k, val, true)
		case "createMissingRelatedEntities":
			cfg.CreateMissingRelatedEntities = d.boolean(k, val, true)
		case "entityDeletionThreshold":
			cfg.EntityDeletionThreshold = d.threshold(k, val)
		case "resources":
			cfg.Resources = d.resources(val)
		default:
			// Integrations add their own top-level keys; keep them, but
			// point out a likely misspelling of a known one.
			if cfg.Extra == nil {
				cfg.Extra = map[string]any{}
			}
			cfg.Extra[k] = jsonValue(val)
			if s := closest(k, configKeys); s != "" {
				d.warnKey(k, "unknown key, kept as given; did you mean %s?", s)
			}
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	cfg.warnings = append(d.warnings, itemsToParseWarnings(&cfg)...)
	return &cfg, nil
}

func (d *decoder) resources(v any) []Resource {
	if v == nil {
		return []Resource{}
	}
	list, ok := v.([]any)
	if !ok {
		d.problem("resources", "must be a list of resources, got %s", describe(v))
		return nil
	}
	out := make([]Resource, 0, len(list))
	for i, e := range list {
		out = append(out, d.resource(fmt.Sprintf("resources[%d]", i), e))
	}
	return out
}

func (d *decoder) resource(path string, v any) Resource {
	r := Resource{src: d.src, path: path}
	obj, ok := asObject(v)
	if !ok {
		d.problem(path, "must be an object with kind, selector and port, got %s", describe(v))
		return r
	}
	d.unknownKeys(path, obj, resourceKeys)
	if k, ok := obj["kind"]; ok && k != nil {
		r.Kind = d.str(path+".kind", k)
	}
	if strings.TrimSpace(r.Kind) == "" {
		d.problem(path+".kind", "required: the kind of item the source fetches")
	}
	r.Selector = d.selector(path+".selector", obj["selector"])
	r.Port = d.port(path+".port", obj["port"])
	return r
}

// selector reads a selector; every key is kept in Raw for the source. A
// missing selector or query means "true" (Ocean's model requires one; Port
// always writes one).
func (d *decoder) selector(path string, v any) Selector {
	s := Selector{Query: "true", Raw: map[string]any{}}
	if v == nil {
		s.Raw["query"] = s.Query
		return s
	}
	obj, ok := asObject(v)
	if !ok {
		d.problem(path, "must be an object with a query, got %s", describe(v))
		return s
	}
	for k, val := range obj {
		s.Raw[k] = jsonValue(val)
	}
	if q, ok := obj["query"]; ok && q != nil {
		s.Query = d.expr(path+".query", q)
	}
	if strings.TrimSpace(s.Query) == "" {
		s.Query = "true"
	}
	s.Raw["query"] = s.Query
	return s
}

func (d *decoder) port(path string, v any) PortResource {
	var p PortResource
	obj, ok := asObject(v)
	if !ok {
		if v == nil {
			d.problem(path, "required: port.entity.mappings says how items become entities")
		} else {
			d.problem(path, "must be an object with entity.mappings, got %s", describe(v))
		}
		return p
	}
	d.unknownKeys(path, obj, portKeys)
	if v, ok := obj["itemsToParse"]; ok && v != nil {
		p.ItemsToParse = d.expr(path+".itemsToParse", v)
	}
	if v, ok := obj["itemsToParseName"]; ok && v != nil {
		p.ItemsToParseName = d.str(path+".itemsToParseName", v)
	}
	if v, ok := obj["itemsToParseTopLevelTransform"]; ok && v != nil {
		b := d.boolean(path+".itemsToParseTopLevelTransform", v, true)
		p.ItemsToParseTopLevelTransform = &b
	}
	ent, ok := asObject(obj["entity"])
	if !ok {
		d.problem(path+".entity", "required: an object with mappings, got %s", describe(obj["entity"]))
		return p
	}
	d.unknownKeys(path+".entity", ent, entityKeys)
	mpath := path + ".entity.mappings"
	switch m := ent["mappings"].(type) {
	case []any:
		if len(m) == 0 {
			d.problem(mpath, "required: at least one mapping")
		}
		for i, e := range m {
			p.Entity.Mappings = append(p.Entity.Mappings, d.entityMapping(fmt.Sprintf("%s[%d]", mpath, i), e))
		}
	default:
		if _, ok := asObject(m); !ok {
			d.problem(mpath, "required: an object with identifier and blueprint, got %s", describe(m))
			return p
		}
		p.Entity.Mappings = []EntityMapping{d.entityMapping(mpath, m)}
	}
	return p
}

func (d *decoder) entityMapping(path string, v any) EntityMapping {
	var m EntityMapping
	obj, ok := asObject(v)
	if !ok {
		d.problem(path, "must be an object with identifier and blueprint, got %s", describe(v))
		return m
	}
	d.unknownKeys(path, obj, mappingKeys)
	if id, ok := obj["identifier"]; ok && id != nil {
		m.Identifier = d.exprOrQuery(path+".identifier", id)
	} else {
		d.problem(path+".identifier", "required: a jq expression or a search query")
	}
	if bp, ok := obj["blueprint"]; ok && bp != nil {
		m.Blueprint = d.expr(path+".blueprint", bp)
	} else {
		d.problem(path+".blueprint", `required: a jq expression such as '"service"'`)
	}
	if t, ok := obj["title"]; ok && t != nil {
		s := d.expr(path+".title", t)
		m.Title = &s
	}
	if t, ok := obj["icon"]; ok && t != nil {
		s := d.expr(path+".icon", t)
		m.Icon = &s
	}
	if t, ok := obj["team"]; ok && t != nil {
		m.Team = d.exprOrQuery(path+".team", t)
	}
	if ps, ok := obj["properties"]; ok && ps != nil {
		m.Properties = namedFields(d, path+".properties", ps, "a jq expression", "jq expressions", d.expr)
	}
	if rs, ok := obj["relations"]; ok && rs != nil {
		m.Relations = namedFields(d, path+".relations", rs, "a jq expression or a search query", "jq expressions or search queries", d.exprOrQuery)
	}
	return m
}

// namedFields reads an object of properties or relations, each value with
// read; one and many name the values in errors. Set but empty gives an
// empty map.
func namedFields[T any](d *decoder, path string, v any, one, many string, read func(string, any) T) map[string]T {
	obj, ok := asObject(v)
	if !ok {
		d.problem(path, "must be an object of %s, got %s", many, describe(v))
	}
	out := make(map[string]T, len(obj))
	for _, k := range sortedKeys(obj) {
		if obj[k] == nil {
			d.problem(path+"."+k, "must be %s, got null", one)
			continue
		}
		out[k] = read(path+"."+k, obj[k])
	}
	return out
}

// exprOrQuery reads a jq expression or a search query.
func (d *decoder) exprOrQuery(path string, v any) any {
	if _, ok := asObject(v); ok {
		return d.query(path, v)
	}
	return d.expr(path, v)
}

// query reads a search query ({combinator, rules}); every leaf is a jq
// expression. Keys Ocean's model does not know are dropped, as Ocean does.
func (d *decoder) query(path string, v any) map[string]any {
	obj, _ := asObject(v)
	d.unknownKeys(path, obj, queryKeys)
	out := map[string]any{}
	if c, ok := obj["combinator"]; ok && c != nil {
		out["combinator"] = d.expr(path+".combinator", c)
	} else {
		d.problem(path+".combinator", `required in a search query: a jq expression such as '"and"'`)
	}
	rules, ok := obj["rules"].([]any)
	if !ok {
		d.problem(path+".rules", "required in a search query: a list of rules, got %s", describe(obj["rules"]))
		return out
	}
	outRules := make([]any, 0, len(rules))
	for i, r := range rules {
		rpath := fmt.Sprintf("%s.rules[%d]", path, i)
		robj, ok := asObject(r)
		switch {
		case !ok:
			d.problem(rpath, "must be a rule {property, operator, value} or a nested query, got %s", describe(r))
		case robj["combinator"] != nil || robj["rules"] != nil:
			outRules = append(outRules, d.query(rpath, r))
		default:
			d.unknownKeys(rpath, robj, ruleKeys)
			rule := map[string]any{}
			for _, k := range ruleKeys {
				if e, ok := robj[k]; ok && e != nil {
					rule[k] = d.expr(rpath+"."+k, e)
				} else {
					d.problem(rpath+"."+k, "required in a search rule: a jq expression")
				}
			}
			outRules = append(outRules, rule)
		}
	}
	out["rules"] = outRules
	return out
}

// expr reads a jq expression. A YAML scalar that is not a string (true,
// 1.50, .nan) is taken as written, and a JSON number or boolean as the jq
// literal it spells, where Ocean would stringify it Python's way ("True")
// and fail.
func (d *decoder) expr(path string, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if text := d.src.pos(path).plain; text != "" {
		return text
	}
	switch t := v.(type) {
	case bool:
		return strconv.FormatBool(t)
	}
	if n, ok := numberText(v); ok {
		return n
	}
	d.problem(path, "must be a jq expression (a string), got %s", describe(v))
	return ""
}

// str reads a plain string; numbers are taken as their text, as pydantic
// does.
func (d *decoder) str(path string, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if text := d.src.pos(path).plain; text != "" {
		return text
	}
	if n, ok := numberText(v); ok {
		return n
	}
	d.problem(path, "must be a string, got %s", describe(v))
	return ""
}

// boolean reads a flag as pydantic does: true/false, 1/0, or one of
// yes/no, on/off, true/false, y/n, t/f, 1/0 in any case.
func (d *decoder) boolean(path string, v any, def bool) bool {
	switch t := v.(type) {
	case nil:
		return def
	case bool:
		return t
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "1", "on", "t", "true", "y", "yes":
			return true
		case "0", "off", "f", "false", "n", "no":
			return false
		}
	default:
		if n, ok := numberText(v); ok {
			switch n {
			case "1":
				return true
			case "0":
				return false
			}
		}
	}
	d.problem(path, "must be true or false, got %s", describe(v))
	return def
}

func (d *decoder) threshold(path string, v any) float64 {
	var f float64
	var ok bool
	switch t := v.(type) {
	case string:
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(t), 64)
		ok = err == nil
	default:
		var n string
		if n, ok = numberText(v); ok {
			f, _ = strconv.ParseFloat(n, 64)
		}
	}
	if !ok {
		d.problem(path, "must be a number between 0 and 1, got %s", describe(v))
		return 0.9
	}
	if !(f >= 0 && f <= 1) {
		d.problem(path, "must be between 0 and 1 (the share of a blueprint's entities a resync may delete), got %v", f)
	}
	return f
}

// unknownKeys warns about keys Ocean's model does not have; they are
// ignored, as Ocean ignores them.
func (d *decoder) unknownKeys(path string, obj map[string]any, known []string) {
	for _, k := range sortedKeys(obj) {
		if slices.Contains(known, k) {
			continue
		}
		msg := "unknown key, ignored"
		if s := closest(k, known); s != "" {
			msg += "; did you mean " + s + "?"
		}
		d.warnKey(joinPath(path, k), "%s", msg)
	}
}

// asObject accepts the object shapes decoders produce.
func asObject(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

// numberText is the JSON text of a number of any decoder's type.
func numberText(v any) (string, bool) {
	switch t := v.(type) {
	case json.Number:
		return t.String(), true
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return "", false
		}
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(t), 'g', -1, 32), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case *big.Int:
		return t.String(), true
	}
	return "", false
}

// describe names a value's type for an error message.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("the string %q", t)
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case []any:
		return "a list"
	case float64:
		return fmt.Sprintf("the number %v", t)
	}
	if _, ok := asObject(v); ok {
		return "an object"
	}
	if n, ok := numberText(v); ok {
		return "the number " + n
	}
	return fmt.Sprintf("a %T", v)
}

// jsonValue turns a decoded YAML or JSON value into the JSON values
// encoding/json produces (numbers as float64), for sources and for
// sending the mapping back to Port.
func jsonValue(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonValue(e)
		}
		return out
	case string, bool, nil, float64:
		return t
	}
	if obj, ok := asObject(v); ok {
		out := make(map[string]any, len(obj))
		for k, e := range obj {
			out[k] = jsonValue(e)
		}
		return out
	}
	if n, ok := numberText(v); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err == nil {
			return f
		}
	}
	return fmt.Sprint(v)
}

// closest returns the candidate within a few edits of key (case aside),
// or "".
func closest(key string, candidates []string) string {
	k := strings.ToLower(key)
	best, bestD := "", max(1, len(k)/3)+1
	for _, c := range candidates {
		if d := editDistance(k, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
