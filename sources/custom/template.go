package custom

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// templateRef is one {{jq}} in a customAuthRequestTemplate string.
var templateRef = regexp.MustCompile(`\{\{(.*?)\}\}`)

// compiledTemplate is customAuthRequestTemplate with every {{jq}}
// compiled, so a bad one is a settings error before the first request.
type compiledTemplate struct {
	headers map[string]*templateString
	query   map[string]*templateString
	body    any // the body with *templateString in place of strings
}

// templateString is one string with its {{jq}} parts.
type templateString struct {
	key   string // where it is, for errors: customAuthRequestTemplate.headers.Authorization
	text  string
	parts []templatePart
}

type templatePart struct {
	start, end int // of the {{...}} in text
	expr       string
	code       *gojq.Code
}

func compileTemplate(key string, t *CustomAuthRequestTemplate) (*compiledTemplate, error) {
	c := &compiledTemplate{headers: map[string]*templateString{}, query: map[string]*templateString{}}
	var err error
	compileMap := func(section string, m map[string]string, into map[string]*templateString) {
		for _, k := range sortedNames(m) {
			if err != nil {
				return
			}
			into[k], err = compileString(key+"."+section+"."+k, m[k])
		}
	}
	compileMap("headers", t.Headers, c.headers)
	compileMap("queryParams", t.QueryParams, c.query)
	if err != nil {
		return nil, err
	}
	if t.Body != nil {
		if c.body, err = compileValue(key+".body", t.Body); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func compileValue(key string, v any) (any, error) {
	switch t := v.(type) {
	case string:
		return compileString(key, t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedNames(t) {
			c, err := compileValue(key+"."+k, t[k])
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := compileValue(key+"["+strconv.Itoa(i)+"]", e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

func compileString(key, s string) (*templateString, error) {
	ts := &templateString{key: key, text: s}
	for _, m := range templateRef.FindAllStringSubmatchIndex(s, -1) {
		expr := strings.TrimSpace(s[m[2]:m[3]])
		q, err := gojq.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("%s: {{%s}} is not a jq expression: %v", key, expr, err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return nil, fmt.Errorf("%s: {{%s}}: %v", key, expr, err)
		}
		ts.parts = append(ts.parts, templatePart{start: m[0], end: m[1], expr: expr, code: code})
	}
	return ts, nil
}

// render evaluates the string against the auth answer. A template alone
// keeps its value's JSON type (for bodies); values found are reported to
// found, so they can be redacted.
func (ts *templateString) render(answer any, found func(string)) (any, error) {
	if len(ts.parts) == 0 {
		return ts.text, nil
	}
	var b strings.Builder
	last := 0
	for _, p := range ts.parts {
		v, err := p.eval(answer)
		if err != nil {
			return nil, fmt.Errorf("%s: {{%s}}: %w", ts.key, p.expr, err)
		}
		s := jsonText(v)
		found(s)
		if len(ts.parts) == 1 && p.start == 0 && p.end == len(ts.text) {
			return v, nil
		}
		b.WriteString(ts.text[last:p.start])
		b.WriteString(s)
		last = p.end
	}
	b.WriteString(ts.text[last:])
	found(b.String())
	return b.String(), nil
}

func (ts *templateString) renderString(answer any, found func(string)) (string, error) {
	v, err := ts.render(answer, found)
	if err != nil {
		return "", err
	}
	return jsonText(v), nil
}

func (p templatePart) eval(answer any) (any, error) {
	iter := p.code.Run(answer)
	v, ok := iter.Next()
	if !ok || v == nil {
		return nil, fmt.Errorf("no value in the auth answer (its keys: %s)", answerKeys(answer))
	}
	if err, isErr := v.(error); isErr {
		return nil, fmt.Errorf("%v (auth answer keys: %s)", err, answerKeys(answer))
	}
	return v, nil
}

// answerKeys lists the auth answer's keys (never its values), nested ones
// as dot paths, to help fix a template.
func answerKeys(answer any) string {
	var keys []string
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		m, ok := v.(map[string]any)
		if !ok || depth > 3 {
			return
		}
		for k, e := range m {
			keys = append(keys, prefix+k)
			walk(prefix+k+".", e, depth+1)
		}
	}
	walk(".", answer, 0)
	if len(keys) == 0 {
		return "none: the answer is not a JSON object"
	}
	sort.Strings(keys)
	if len(keys) > 50 {
		keys = append(keys[:50], "...")
	}
	return strings.Join(keys, ", ")
}

func (c *compiledTemplate) renderBody(v any, answer any, found func(string)) (any, error) {
	switch t := v.(type) {
	case *templateString:
		return t.render(answer, found)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := c.renderBody(e, answer, found)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := c.renderBody(e, answer, found)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// jsonText is a value as it goes into a header or query string.
func jsonText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
