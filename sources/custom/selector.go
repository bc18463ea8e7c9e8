package custom

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/itchyny/gojq"
)

// placeholderRE finds {param} placeholders, as Ocean does.
var placeholderRE = regexp.MustCompile(`\{(\w+)\}`)

// placeholders lists the distinct placeholder names of s in order.
func placeholders(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// substitute fills the placeholders of an endpoint template: escaped as a
// path segment before the '?', as a query value after it.
func substitute(tmpl string, values map[string]string) string {
	path, query, hasQuery := strings.Cut(tmpl, "?")
	fill := func(s string, escape func(string) string) string {
		return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
			v, ok := values[m[1:len(m)-1]]
			if !ok {
				return m
			}
			return escape(v)
		})
	}
	out := fill(path, url.PathEscape)
	if hasQuery {
		out += "?" + fill(query, url.QueryEscape)
	}
	return out
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

func method(key string, v any) (string, error) {
	if v == nil {
		return "GET", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: must be an HTTP method, got %s", key, describe(v))
	}
	m := strings.ToUpper(strings.TrimSpace(s))
	if m == "" {
		return "GET", nil
	}
	if !methods[m] {
		return "", fmt.Errorf("%s: %q is not one of GET, POST, PUT, PATCH, DELETE", key, s)
	}
	return m, nil
}

func str(key string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: must be a string, got %s", key, describe(v))
	}
	return s, nil
}

// call is one HTTP call template: a kind or a discovery endpoint, with
// placeholders still in it.
type call struct {
	endpoint  string
	method    string
	query     url.Values
	header    http.Header
	body      []byte
	retryPOST bool
	dataPath  *dataPath
}

// resource is a parsed resource of the mapping.
type resource struct {
	kind   string
	call   call
	params map[string]*pathParam
}

// pathParam is one selector.path_parameters entry (Ocean's ApiPathParameter).
type pathParam struct {
	name       string
	call       call
	field      *gojq.Code
	fieldExpr  string
	filter     *gojq.Code
	filterExpr string
}

var pathParamKeys = map[string]bool{"endpoint": true, "method": true, "query_params": true, "headers": true, "data_path": true, "field": true, "filter": true}

// selectorKeys are the selector keys the source reads.
var selectorKeys = map[string]bool{"method": true, "query_params": true, "headers": true, "body": true, "data_path": true, "path_parameters": true, "retry_post": true}

// parseResource reads a resource's selector (Ocean's names) and checks
// that every placeholder, in the kind and in discovery endpoints, has a
// path_parameters entry and that no discovery depends on itself.
func parseResource(kind string, sel map[string]any) (*resource, error) {
	r := &resource{kind: kind, params: map[string]*pathParam{}}
	for _, k := range sortedKeys(sel) {
		if snake := decamelize(k); snake != k && selectorKeys[snake] {
			return nil, fmt.Errorf("selector.%s: the selector key is %s (snake_case, as Ocean reads it); %s would be ignored", k, snake, k)
		}
	}
	c, err := parseCall("selector", kind, sel)
	if err != nil {
		return nil, err
	}
	if b, ok := sel["body"]; ok && !empty(b) {
		body, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("selector.body: %w", err)
		}
		c.body = body
	}
	if v, ok := sel["retry_post"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("selector.retry_post: must be true or false, got %s", describe(v))
		}
		c.retryPOST = b
	}
	r.call = c
	if v, ok := sel["path_parameters"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("selector.path_parameters: must be an object of parameter names, got %s", describe(v))
		}
		for _, name := range sortedKeys(m) {
			p, err := parsePathParam(name, m[name])
			if err != nil {
				return nil, err
			}
			r.params[name] = p
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

func empty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

func parseCall(key, endpoint string, m map[string]any) (call, error) {
	c := call{endpoint: endpoint}
	var err error
	if c.method, err = method(key+".method", m["method"]); err != nil {
		return c, err
	}
	if c.query, err = queryValues(key+".query_params", m["query_params"]); err != nil {
		return c, err
	}
	if c.header, err = headerValues(key+".headers", m["headers"]); err != nil {
		return c, err
	}
	dp, err := str(key+".data_path", m["data_path"])
	if err != nil {
		return c, err
	}
	if c.dataPath, err = compileDataPath(dp); err != nil {
		return c, fmt.Errorf("%s.%w", key, err)
	}
	return c, nil
}

func parsePathParam(name string, v any) (*pathParam, error) {
	key := "selector.path_parameters." + name
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be an object with endpoint and field, got %s", key, describe(v))
	}
	for _, k := range sortedKeys(m) {
		if !pathParamKeys[k] {
			return nil, fmt.Errorf("%s.%s: unknown key (known: data_path, endpoint, field, filter, headers, method, query_params)", key, k)
		}
	}
	endpoint, err := str(key+".endpoint", m["endpoint"])
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(endpoint) == "" {
		return nil, fmt.Errorf("%s.endpoint: required: the endpoint that lists the values of {%s}", key, name)
	}
	c, err := parseCall(key, endpoint, m)
	if err != nil {
		return nil, err
	}
	c.dataPath.records = true
	p := &pathParam{name: name, call: c}
	if p.fieldExpr, err = str(key+".field", m["field"]); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.fieldExpr) == "" {
		return nil, fmt.Errorf("%s.field: required: a jq expression giving the value of {%s} from each record (e.g. .id)", key, name)
	}
	if p.field, err = compileJQ(key+".field", p.fieldExpr); err != nil {
		return nil, err
	}
	if p.filterExpr, err = str(key+".filter", m["filter"]); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.filterExpr) != "" {
		if p.filter, err = compileJQ(key+".filter", p.filterExpr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func compileJQ(key, expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", key, expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", key, expr, err)
	}
	return code, nil
}

// check rejects a placeholder without a path_parameters entry (Ocean
// would request the literal template) and a discovery that needs its own
// value (directly or through other parameters).
func (r *resource) check() error {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string, chain []string) error
	visit = func(name, from string, chain []string) error {
		p, ok := r.params[name]
		if !ok {
			return fmt.Errorf("%s has placeholder {%s} but selector.path_parameters has no %q entry", from, name, name)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("selector.path_parameters: {%s} depends on itself (%s -> %s)", name, strings.Join(chain, " -> "), name)
		case 2:
			return nil
		}
		state[name] = 1
		for _, dep := range placeholders(p.call.endpoint) {
			if err := visit(dep, "selector.path_parameters."+name+".endpoint "+p.call.endpoint, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		return nil
	}
	for _, name := range placeholders(r.kind) {
		if err := visit(name, "kind "+r.kind, nil); err != nil {
			return err
		}
	}
	return nil
}
