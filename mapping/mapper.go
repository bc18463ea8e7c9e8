package mapping

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Entity is one mapped Port entity: only the keys the mapping set, with the
// values jq produced. identifier and blueprint are always present.
type Entity map[string]any

// Identifier returns the entity identifier when it is a plain string. Entities
// identified by a search query return ok=false.
func (e Entity) Identifier() (string, bool) {
	s, ok := e["identifier"].(string)
	return s, ok
}

// Blueprint returns the blueprint the entity belongs to.
func (e Entity) Blueprint() string {
	s, _ := e["blueprint"].(string)
	return s
}

// Options tune how a mapping is compiled and evaluated.
type Options struct {
	// EnvAllowList names the environment variables that jq's env and $ENV
	// may read. Empty means none: a mapping edited in Port cannot read the
	// daemon's secrets.
	EnvAllowList []string
	// LookupEnv reads one environment variable; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// Mapping is a compiled port app config.
type Mapping struct {
	Config    *Config
	resources []*ResourceMapper
}

// Compile compiles every jq program of cfg once. An expression that does not
// compile is reported with its resource index, kind and field, before any
// Port write happens.
func Compile(cfg *Config, opts Options) (*Mapping, error) {
	env := allowedEnv(opts)
	m := &Mapping{Config: cfg}
	for i, r := range cfg.Resources {
		rm, err := compileResource(i, r, env)
		if err != nil {
			return nil, fmt.Errorf("resources[%d] (kind %s): %w", i, r.Kind, err)
		}
		m.resources = append(m.resources, rm)
	}
	return m, nil
}

// Resources returns one mapper per resource, in mapping order.
func (m *Mapping) Resources() []*ResourceMapper { return m.resources }

func allowedEnv(opts Options) []string {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var env []string
	for _, name := range opts.EnvAllowList {
		if v, ok := lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// ResourceMapper maps items of one resource to entities.
type ResourceMapper struct {
	Index    int
	Resource Resource

	selector         *program
	itemsToParse     *program
	itemsToParseDel  *program
	itemsToParseName string
	entities         []*entityProgram
}

// KindID is Ocean's name for a resource in logs and metrics: <kind>-<index>.
func (r *ResourceMapper) KindID() string { return fmt.Sprintf("%s-%d", r.Resource.Kind, r.Index) }

type entityProgram struct {
	identifier *node
	blueprint  *program
	title      *program
	icon       *program
	team       *node
	properties []namedProgram
	relations  []namedNode
	hasProps   bool
	hasRels    bool
}

type namedProgram struct {
	name string
	prog *program
}

type namedNode struct {
	name string
	node *node
}

// node is a mapping value: a jq program, or an object or array (a search
// query) whose string leaves are jq programs.
type node struct {
	prog *program
	obj  map[string]*node
	arr  []*node
	lit  any
}

func compileResource(index int, r Resource, env []string) (*ResourceMapper, error) {
	rm := &ResourceMapper{Index: index, Resource: r, itemsToParseName: r.Port.ItemsToParseName}
	if rm.itemsToParseName == "" {
		rm.itemsToParseName = "item"
	}
	query := r.Selector.Query
	if strings.TrimSpace(query) == "" {
		query = "true"
	}
	var err error
	if rm.selector, err = compileProgram("selector.query", query, env); err != nil {
		return nil, err
	}
	if r.Port.ItemsToParse != "" {
		if rm.itemsToParse, err = compileProgram("port.itemsToParse", r.Port.ItemsToParse, env); err != nil {
			return nil, err
		}
		transform := r.Port.ItemsToParseTopLevelTransform == nil || *r.Port.ItemsToParseTopLevelTransform
		if transform {
			del := "del(" + simplePath(r.Port.ItemsToParse) + ")"
			if rm.itemsToParseDel, err = compileProgram("port.itemsToParse", del, nil); err != nil {
				return nil, err
			}
		}
	}
	for j, em := range r.Port.Entity.Mappings {
		prefix := "port.entity.mappings"
		if len(r.Port.Entity.Mappings) > 1 {
			prefix = fmt.Sprintf("port.entity.mappings[%d]", j)
		}
		ep, err := compileEntity(prefix, em, env)
		if err != nil {
			return nil, err
		}
		rm.entities = append(rm.entities, ep)
	}
	return rm, nil
}

func compileEntity(prefix string, em EntityMapping, env []string) (*entityProgram, error) {
	ep := &entityProgram{hasProps: em.Properties != nil, hasRels: em.Relations != nil}
	var err error
	if ep.identifier, err = compileNode(prefix+".identifier", em.Identifier, env); err != nil {
		return nil, err
	}
	if ep.blueprint, err = compileProgram(prefix+".blueprint", em.Blueprint, env); err != nil {
		return nil, err
	}
	if em.Title != nil {
		if ep.title, err = compileProgram(prefix+".title", *em.Title, env); err != nil {
			return nil, err
		}
	}
	if em.Icon != nil {
		if ep.icon, err = compileProgram(prefix+".icon", *em.Icon, env); err != nil {
			return nil, err
		}
	}
	if em.Team != nil {
		if ep.team, err = compileNode(prefix+".team", em.Team, env); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(em.Properties) {
		p, err := compileProgram(prefix+".properties."+name, em.Properties[name], env)
		if err != nil {
			return nil, err
		}
		ep.properties = append(ep.properties, namedProgram{name, p})
	}
	for _, name := range sortedKeys(em.Relations) {
		n, err := compileNode(prefix+".relations."+name, em.Relations[name], env)
		if err != nil {
			return nil, err
		}
		ep.relations = append(ep.relations, namedNode{name, n})
	}
	return ep, nil
}

func compileNode(field string, v any, env []string) (*node, error) {
	switch t := v.(type) {
	case string:
		p, err := compileProgram(field, t, env)
		if err != nil {
			return nil, err
		}
		return &node{prog: p}, nil
	case map[string]any:
		n := &node{obj: make(map[string]*node, len(t))}
		for _, k := range sortedKeys(t) {
			c, err := compileNode(field+"."+k, t[k], env)
			if err != nil {
				return nil, err
			}
			n.obj[k] = c
		}
		return n, nil
	case []any:
		n := &node{arr: make([]*node, len(t))}
		for i, e := range t {
			c, err := compileNode(fmt.Sprintf("%s[%d]", field, i), e, env)
			if err != nil {
				return nil, err
			}
			n.arr[i] = c
		}
		return n, nil
	default:
		return &node{lit: v}, nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Misconfiguration is a mapping field whose jq program failed or produced
// nothing for an item; the field was set to null.
type Misconfiguration struct {
	Field  string `json:"field"`
	Expr   string `json:"expr"`
	Reason string `json:"reason"`
}

// Result is what one raw item became.
type Result struct {
	// Entities passed the selector and have an identifier and a blueprint.
	Entities []Entity
	// Filtered counts items (after itemsToParse) the selector dropped.
	Filtered int
	// Dropped counts mapped entities without identifier or blueprint.
	Dropped int
	// Misconfigurations lists fields that evaluated to null because of an
	// error or no output.
	Misconfigurations []Misconfiguration
}

// ItemError is an item the mapping could not judge: its selector did not
// yield a boolean, or its itemsToParse did not yield an array.
type ItemError struct {
	Field  string
	Reason string
}

func (e *ItemError) Error() string { return e.Field + ": " + e.Reason }

// Map turns one raw item into entities. An ItemError means the item could not
// be judged at all; the caller counts it as failed.
func (r *ResourceMapper) Map(ctx context.Context, item any) (Result, error) {
	var res Result
	if r.itemsToParse == nil {
		return res, r.mapOne(ctx, item, &res)
	}
	items, ok, reason := r.itemsToParse.first(ctx, item)
	if !ok {
		return res, &ItemError{Field: "port.itemsToParse", Reason: reason}
	}
	list, isList := items.([]any)
	if !isList {
		return res, &ItemError{Field: "port.itemsToParse", Reason: fmt.Sprintf("must yield an array, got %s", jsonType(items))}
	}
	base := item
	if r.itemsToParseDel != nil {
		v, ok, reason := r.itemsToParseDel.first(ctx, item)
		if !ok {
			return res, &ItemError{Field: "port.itemsToParse", Reason: reason}
		}
		base = v
	}
	baseObj, isObj := base.(map[string]any)
	if !isObj {
		return res, &ItemError{Field: "port.itemsToParse", Reason: "removing the parsed items left no object to merge them into"}
	}
	for _, element := range list {
		merged := make(map[string]any, len(baseObj)+1)
		for k, v := range baseObj {
			merged[k] = v
		}
		merged[r.itemsToParseName] = element
		if err := r.mapOne(ctx, merged, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (r *ResourceMapper) mapOne(ctx context.Context, item any, res *Result) error {
	v, ok, reason := r.selector.first(ctx, item)
	if !ok {
		return &ItemError{Field: "selector.query", Reason: reason}
	}
	keep, isBool := v.(bool)
	if !isBool {
		return &ItemError{Field: "selector.query", Reason: fmt.Sprintf("must yield a boolean, got %s", jsonType(v))}
	}
	if !keep {
		res.Filtered++
		return nil
	}
	for _, ep := range r.entities {
		e := ep.eval(ctx, item, &res.Misconfigurations)
		if !truthy(e["identifier"]) || !truthy(e["blueprint"]) {
			res.Dropped++
			continue
		}
		res.Entities = append(res.Entities, e)
	}
	return nil
}

func (ep *entityProgram) eval(ctx context.Context, item any, mis *[]Misconfiguration) Entity {
	e := Entity{
		"identifier": ep.identifier.eval(ctx, item, mis),
		"blueprint":  evalProgram(ctx, ep.blueprint, item, mis),
	}
	if ep.title != nil {
		e["title"] = evalProgram(ctx, ep.title, item, mis)
	}
	if ep.icon != nil {
		e["icon"] = evalProgram(ctx, ep.icon, item, mis)
	}
	if ep.team != nil {
		e["team"] = ep.team.eval(ctx, item, mis)
	}
	if ep.hasProps {
		props := make(map[string]any, len(ep.properties))
		for _, p := range ep.properties {
			props[p.name] = evalProgram(ctx, p.prog, item, mis)
		}
		e["properties"] = props
	}
	if ep.hasRels {
		rels := make(map[string]any, len(ep.relations))
		for _, r := range ep.relations {
			rels[r.name] = r.node.eval(ctx, item, mis)
		}
		e["relations"] = rels
	}
	return e
}

func evalProgram(ctx context.Context, p *program, item any, mis *[]Misconfiguration) any {
	v, ok, reason := p.first(ctx, item)
	if !ok {
		*mis = append(*mis, Misconfiguration{Field: p.field, Expr: p.expr, Reason: reason})
		return nil
	}
	return v
}

func (n *node) eval(ctx context.Context, item any, mis *[]Misconfiguration) any {
	switch {
	case n.prog != nil:
		return evalProgram(ctx, n.prog, item, mis)
	case n.obj != nil:
		out := make(map[string]any, len(n.obj))
		for k, c := range n.obj {
			out[k] = c.eval(ctx, item, mis)
		}
		return out
	case n.arr != nil:
		out := make([]any, len(n.arr))
		for i, c := range n.arr {
			out[i] = c.eval(ctx, item, mis)
		}
		return out
	default:
		return n.lit
	}
}

// truthy is Python's truth test on JSON values, which Ocean uses to drop
// entities without identifier or blueprint.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case float64:
		return t != 0
	case int:
		return t != 0
	case map[string]any:
		return len(t) > 0
	case []any:
		return len(t) > 0
	default:
		return true
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return "number"
	}
}

var simplePathRE = regexp.MustCompile(`^\.(?:[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["[^"]*"\])(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["[^"]*"\])*$`)

// simplePath finds the path itemsToParse reads from, so the items can be
// removed from the item they are merged into. Ocean takes the first pipe
// segment that is a plain path, ignoring `. as $x` and `$var` segments, and
// falls back to `.`.
func simplePath(expr string) string {
	for _, seg := range strings.Split(expr, "|") {
		seg = strings.TrimSpace(seg)
		if strings.HasPrefix(seg, "$") || strings.Contains(seg, " as $") {
			continue
		}
		if simplePathRE.MatchString(seg) {
			return seg
		}
	}
	return "."
}
