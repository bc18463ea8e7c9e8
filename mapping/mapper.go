package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// DefaultItemTimeout is how long the jq programs of one item may run before
// they are stopped. Real mappings take microseconds per item; the limit is
// there for runaway programs (def f: f; f), which Ocean bounds with
// process_in_queue_timeout (120 s) per item.
const DefaultItemTimeout = 10 * time.Second

// Options tune how a mapping is compiled and evaluated.
type Options struct {
	// EnvAllowList names the environment variables that jq's env and $ENV
	// may read. Empty means none: a mapping edited in Port cannot read the
	// daemon's secrets.
	EnvAllowList []string
	// LookupEnv reads one environment variable; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// ItemTimeout bounds the jq time of one item (its selector and fields;
	// separately, its itemsToParse). 0 means DefaultItemTimeout, a
	// negative value no limit.
	ItemTimeout time.Duration
	// Parallelism is how many goroutines MapItems may use at once across
	// all its callers; 0 means GOMAXPROCS.
	Parallelism int
	// MemoryBudget bounds the heap while jq runs: past it, the running
	// jq programs are stopped and their items fail (see memGuard). 0
	// means half the Go runtime's memory limit, or
	// DefaultMemoryBudgetWithoutLimit when there is none; a negative
	// value no budget.
	MemoryBudget int64
}

// Entity is one mapped Port entity: only the keys the mapping set, with the
// values jq produced. identifier and blueprint are always present. Values
// below the top level may be shared with the item or with other entities
// (jq outputs are not copied): treat them as read-only.
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

// Mapping is a compiled port app config. It is safe for concurrent use.
type Mapping struct {
	Config    *Config
	resources []*ResourceMapper
	// helpers holds a token per goroutine MapItems may add.
	helpers chan struct{}
}

// Compile compiles every jq program of cfg once. Every expression that does
// not compile is reported, each as a *CompileError naming its resource
// index, kind, field and place in the expression (and in the file, for a
// mapping read by ParseFile), so a broken mapping is refused before any
// Port write.
func Compile(cfg *Config, opts Options) (*Mapping, error) {
	c := &compiler{env: allowedEnv(opts)}
	limit := opts.ItemTimeout
	switch {
	case limit == 0:
		limit = DefaultItemTimeout
	case limit < 0:
		limit = 0
	}
	par := opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	var guard *memGuard
	switch {
	case opts.MemoryBudget == 0:
		guard = newMemGuard(defaultMemoryBudget())
	case opts.MemoryBudget > 0:
		guard = newMemGuard(uint64(opts.MemoryBudget))
	}
	m := &Mapping{Config: cfg, helpers: make(chan struct{}, max(0, par-1))}
	for i := range cfg.Resources {
		rm := c.resource(i, &cfg.Resources[i])
		rm.limit, rm.helpers, rm.guard = limit, m.helpers, guard
		m.resources = append(m.resources, rm)
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
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
	env := []string{}
	for _, name := range opts.EnvAllowList {
		if v, ok := lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// ResourceMapper maps items of one resource to entities. It is safe for
// concurrent use.
type ResourceMapper struct {
	Index    int
	Resource Resource

	selector         *program
	itemsToParse     *program
	transform        *program // itemsToParseTopLevelTransform: . | del(path)
	itemsToParseName string
	entities         []*entityProgram
	limit            time.Duration
	helpers          chan struct{}
	guard            *memGuard
}

// Native reports whether every program of the resource (selector,
// itemsToParse, every entity field) is a plain path or a literal, which Map
// evaluates in Go without gojq: mapping an item then costs about a
// microsecond, so a caller gains nothing by remembering results.
func (r *ResourceMapper) Native() bool {
	if !r.selector.native() || r.itemsToParse != nil {
		return false
	}
	for _, ep := range r.entities {
		for _, fields := range [][]namedNode{ep.top, ep.properties, ep.relations} {
			for _, f := range fields {
				if !f.node.native() {
					return false
				}
			}
		}
	}
	return true
}

func (p *program) native() bool { return p != nil && (p.isPath || p.isConst) }

func (n *node) native() bool {
	switch {
	case n == nil:
		return false
	case n.prog != nil:
		return n.prog.native()
	case n.obj != nil:
		for _, f := range n.obj {
			if !f.node.native() {
				return false
			}
		}
	case n.arr != nil:
		for _, e := range n.arr {
			if !e.native() {
				return false
			}
		}
	}
	return true
}

// KindID is Ocean's name for a resource in logs and metrics: <kind>-<index>.
func (r *ResourceMapper) KindID() string { return fmt.Sprintf("%s-%d", r.Resource.Kind, r.Index) }

// entityProgram is one compiled entity mapping. top holds identifier,
// blueprint and the optional title, icon and team, in that order.
type entityProgram struct {
	top        []namedNode
	properties []namedNode
	relations  []namedNode
	hasProps   bool
	hasRels    bool
}

type namedNode struct {
	name string
	node *node
}

// node is a mapping value: a jq program, or an object or list (a search
// query) whose string leaves are jq programs.
type node struct {
	prog  *program
	obj   []namedNode
	arr   []*node
	lit   any
	field string // the mapping field it fills, for messages
}

// compiler compiles the resources of one mapping, collecting every error.
type compiler struct {
	env  []string
	errs []error
	// at the resource being compiled
	index int
	res   *Resource
}

func (c *compiler) resource(index int, r *Resource) *ResourceMapper {
	c.index, c.res = index, r
	rm := &ResourceMapper{Index: index, Resource: *r, itemsToParseName: r.Port.ItemsToParseName}
	if rm.itemsToParseName == "" {
		rm.itemsToParseName = "item"
	}
	query := r.Selector.Query
	if strings.TrimSpace(query) == "" {
		query = "true"
	}
	rm.selector = c.program("selector.query", query)
	if r.Port.ItemsToParse != "" {
		rm.itemsToParse = c.program("port.itemsToParse", r.Port.ItemsToParse)
		if r.Port.ItemsToParseTopLevelTransform == nil || *r.Port.ItemsToParseTopLevelTransform {
			rm.transform = c.transform(r.Port.ItemsToParse)
		}
	}
	for j, em := range r.Port.Entity.Mappings {
		prefix := "port.entity.mappings"
		if len(r.Port.Entity.Mappings) > 1 {
			prefix = fmt.Sprintf("port.entity.mappings[%d]", j)
		}
		rm.entities = append(rm.entities, c.entity(prefix, em))
	}
	return rm
}

// transform compiles the top-level transform Ocean derives from
// itemsToParse: ". | del(<first simple path>)", rewritten like any program.
func (c *compiler) transform(itemsToParse string) *program {
	expr := ". | del(" + deletionPath(itemsToParse) + ")"
	p, _, err := compileProgram("port.itemsToParse", expr, nil)
	if err != nil {
		c.fail("port.itemsToParse", itemsToParse, -1, fmt.Errorf(
			"the top-level transform %q derived from it does not compile (%s); set itemsToParseTopLevelTransform: false",
			expr, errorText(err)))
	}
	return p
}

func (c *compiler) program(field, expr string) *program {
	p, offset, err := compileProgram(field, expr, c.env)
	if err != nil {
		c.fail(field, expr, offset, err)
		return nil
	}
	return p
}

func (c *compiler) fail(field, expr string, offset int, err error) {
	e := &CompileError{Resource: c.index, Kind: c.res.Kind, Field: field, Expr: expr, Offset: offset, Err: err}
	if c.res.src != nil {
		e.File = c.res.src.file
	}
	p := c.res.pos(field)
	e.Line, e.Column = p.Line, p.Column
	if p.Line > 0 && offset >= 0 && !strings.ContainsAny(expr, "\n\r") {
		inside := len([]rune(expr[:offset]))
		switch {
		case p.quote == 0:
			e.Column += inside
		case p.quote == '\'' && !strings.Contains(expr, "'"):
			e.Column += 1 + inside
		case p.quote == '"' && !strings.ContainsAny(expr, `"\`):
			e.Column += 1 + inside
		}
	}
	c.errs = append(c.errs, e)
}

func (c *compiler) entity(prefix string, em EntityMapping) *entityProgram {
	ep := &entityProgram{hasProps: em.Properties != nil, hasRels: em.Relations != nil}
	ep.top = append(ep.top,
		namedNode{"identifier", c.node(prefix+".identifier", em.Identifier)},
		namedNode{"blueprint", c.node(prefix+".blueprint", em.Blueprint)})
	if em.Title != nil {
		ep.top = append(ep.top, namedNode{"title", c.node(prefix+".title", *em.Title)})
	}
	if em.Icon != nil {
		ep.top = append(ep.top, namedNode{"icon", c.node(prefix+".icon", *em.Icon)})
	}
	if em.Team != nil {
		ep.top = append(ep.top, namedNode{"team", c.node(prefix+".team", em.Team)})
	}
	for _, name := range sortedKeys(em.Properties) {
		ep.properties = append(ep.properties, namedNode{name, c.node(prefix+".properties."+name, em.Properties[name])})
	}
	for _, name := range sortedKeys(em.Relations) {
		ep.relations = append(ep.relations, namedNode{name, c.node(prefix+".relations."+name, em.Relations[name])})
	}
	return ep
}

func (c *compiler) node(field string, v any) *node {
	switch t := v.(type) {
	case string:
		return &node{prog: c.program(field, t), field: field}
	case map[string]any:
		n := &node{field: field}
		for _, k := range sortedKeys(t) {
			n.obj = append(n.obj, namedNode{k, c.node(field+"."+k, t[k])})
		}
		return n
	case []any:
		n := &node{arr: make([]*node, len(t)), field: field}
		for i, e := range t {
			n.arr[i] = c.node(fmt.Sprintf("%s[%d]", field, i), e)
		}
		return n
	default:
		return &node{lit: v, field: field}
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
// nothing for an item (the field was set to null), or an itemsToParse that
// made Ocean skip an item.
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
	// Dropped counts mapped entities with no valid identifier (a
	// non-empty string or search query) or blueprint (a non-empty
	// string); each has a Misconfiguration naming the field.
	Dropped int
	// Skipped counts raw items whose itemsToParse gave null: Ocean skips
	// them with a warning (they stand for no entity).
	Skipped int
	// Misconfigurations lists fields that evaluated to null because of an
	// error or no output, and skipped items.
	Misconfigurations []Misconfiguration
}

// Map turns one raw item into entities.
//
// An *ItemError means the item could not be judged (the selector did not
// yield a boolean, a program hit the time limit or the memory budget,
// itemsToParse did not give a list); the entities it stands for are
// unknown and the caller counts the item as failed. Result then holds what was mapped before the error. When
// ctx ends, Map returns its cause.
func (r *ResourceMapper) Map(ctx context.Context, item any) (res Result, err error) {
	ev := &evalState{parent: ctx, limit: r.limit, guard: r.guard, r: r}
	defer ev.reset()
	defer func() {
		if p := recover(); p != nil {
			err = &ItemError{Field: ev.field, Reason: fmt.Sprintf("jq failed unexpectedly: %v", p)}
		}
	}()
	item = jqInput(item)
	if r.itemsToParse == nil {
		return res, r.mapOne(ev, item, &res)
	}
	items, err := r.parseItems(ev, item, &res)
	if err != nil || items == nil {
		return res, err
	}
	// As in Ocean, an element the selector cannot judge does not stop
	// the others; the item still fails with the first such error. A time
	// limit or the caller's stop ends the item.
	var first error
	for _, element := range items.list {
		merged := make(map[string]any, len(items.base)+1)
		for k, v := range items.base {
			merged[k] = v
		}
		merged[r.itemsToParseName] = element
		ev.reset()
		err := r.mapOne(ev, merged, &res)
		var ie *ItemError
		switch {
		case err == nil:
		case !errors.As(err, &ie) || ie.Timeout || ie.Memory:
			return res, err
		case first == nil:
			first = err
		}
	}
	return res, first
}

type parsedItems struct {
	list []any
	base map[string]any
}

// parseItems expands a raw item with itemsToParse, as Ocean does: the list
// comes from the original item, the base it is merged into from the
// top-level transform. nil without error: the item is skipped.
func (r *ResourceMapper) parseItems(ev *evalState, item any, res *Result) (*parsedItems, error) {
	v, out, reason, err := r.itemsToParse.run(ev, item)
	if out == stopOut {
		return nil, err
	}
	skip := func(reason string) error {
		return &ItemError{Field: "port.itemsToParse", Skipped: true, Reason: reason}
	}
	base := item
	if r.transform != nil {
		t, tout, treason, terr := r.transform.run(ev, item)
		switch {
		case tout == stopOut:
			return nil, terr
		case tout == nullOut:
			return nil, skip(fmt.Sprintf("the top-level transform %s failed: %s; the item is skipped", r.transform.expr, treason))
		case t == nil:
			return nil, skip(fmt.Sprintf("the top-level transform %s left nothing of the item, which is skipped (set itemsToParseTopLevelTransform: false to keep it)", r.transform.expr))
		}
		base = t
	}
	switch {
	case out == nullOut:
		return nil, skip(fmt.Sprintf("%s; expected a list, the item is skipped", reason))
	case v == nil:
		// The usual "this item has no such list": no entity, as Ocean.
		res.Skipped++
		res.Misconfigurations = append(res.Misconfigurations, Misconfiguration{Field: "port.itemsToParse", Expr: r.itemsToParse.expr, Reason: "gave null, expected a list; the item is skipped"})
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		return nil, skip(fmt.Sprintf("gave %s, expected a list; the item is skipped", jsonType(v)))
	}
	baseObj, isObj := base.(map[string]any)
	if !isObj {
		return nil, skip(fmt.Sprintf("the item is %s, not an object the parsed items can be merged into; it is skipped", jsonType(base)))
	}
	return &parsedItems{list: list, base: baseObj}, nil
}

func (r *ResourceMapper) mapOne(ev *evalState, item any, res *Result) error {
	v, out, reason, err := r.selector.run(ev, item)
	switch {
	case out == stopOut:
		return err
	case out == nullOut:
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
		e, err := ep.eval(ev, item, &res.Misconfigurations)
		if err != nil {
			return err
		}
		if mc, bad := ep.invalidKey(e); bad {
			res.Dropped++
			res.Misconfigurations = append(res.Misconfigurations, mc)
			continue
		}
		res.Entities = append(res.Entities, e)
	}
	return nil
}

// invalidKey reports an entity that names no entity: an identifier that is
// neither a non-empty string nor a search query, or a blueprint that is not
// a non-empty string. Ocean drops only falsy ones and sends the rest, which
// Port refuses; either way the entity is unknown, which the caller must
// know (it cannot tell which entity in Port the item stands for).
func (ep *entityProgram) invalidKey(e Entity) (Misconfiguration, bool) {
	check := func(i int, v any, searchOK bool) (Misconfiguration, bool) {
		switch t := v.(type) {
		case string:
			if t != "" {
				return Misconfiguration{}, false
			}
		case map[string]any:
			if searchOK && len(t) > 0 {
				return Misconfiguration{}, false
			}
		}
		field, expr := ep.top[i].node.describe()
		return Misconfiguration{Field: field, Expr: expr, Reason: fmt.Sprintf("gave %s (%s), not a valid %s; the entity is dropped", sample(v), jsonType(v), ep.top[i].name)}, true
	}
	if mc, bad := check(0, e["identifier"], true); bad {
		return mc, true
	}
	return check(1, e["blueprint"], false)
}

// describe names a node's field and expression for a misconfiguration.
func (n *node) describe() (field, expr string) {
	if n.prog != nil {
		return n.prog.field, n.prog.expr
	}
	return n.field, ""
}

// sample is a short form of a value for a message.
func sample(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func (ep *entityProgram) eval(ev *evalState, item any, mis *[]Misconfiguration) (Entity, error) {
	e := make(Entity, len(ep.top)+2)
	if err := evalInto(e, ep.top, ev, item, mis); err != nil {
		return nil, err
	}
	if ep.hasProps {
		props := make(map[string]any, len(ep.properties))
		if err := evalInto(props, ep.properties, ev, item, mis); err != nil {
			return nil, err
		}
		e["properties"] = props
	}
	if ep.hasRels {
		rels := make(map[string]any, len(ep.relations))
		if err := evalInto(rels, ep.relations, ev, item, mis); err != nil {
			return nil, err
		}
		e["relations"] = rels
	}
	return e, nil
}

func evalInto[M ~map[string]any](out M, fields []namedNode, ev *evalState, item any, mis *[]Misconfiguration) error {
	for _, f := range fields {
		v, err := f.node.eval(ev, item, mis)
		if err != nil {
			return err
		}
		out[f.name] = v
	}
	return nil
}

// evalProgram is a field's value: the program's first output, or null and a
// misconfiguration. err is set only when evaluation was stopped.
func evalProgram(ev *evalState, p *program, item any, mis *[]Misconfiguration) (any, error) {
	v, out, reason, err := p.run(ev, item)
	switch out {
	case nullOut:
		*mis = append(*mis, Misconfiguration{Field: p.field, Expr: p.expr, Reason: reason})
		return nil, nil
	case stopOut:
		return nil, err
	}
	return v, nil
}

func (n *node) eval(ev *evalState, item any, mis *[]Misconfiguration) (any, error) {
	switch {
	case n.prog != nil:
		return evalProgram(ev, n.prog, item, mis)
	case n.obj != nil:
		out := make(map[string]any, len(n.obj))
		for _, c := range n.obj {
			v, err := c.node.eval(ev, item, mis)
			if err != nil {
				return nil, err
			}
			out[c.name] = v
		}
		return out, nil
	case n.arr != nil:
		out := make([]any, len(n.arr))
		for i, c := range n.arr {
			v, err := c.eval(ev, item, mis)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		return n.lit, nil
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return "a number"
	}
}
