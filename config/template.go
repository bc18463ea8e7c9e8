package config

import (
	"fmt"
	"regexp"
	"strings"
)

// template is a config.yaml value of the form {{ from PROVIDER ARG }}.
type template struct {
	provider, arg string
	// malformed is set when the value starts like a template but is not
	// one; raw keeps it for the error.
	malformed bool
	raw       string
}

var (
	templateStartRE = regexp.MustCompile(`^\s*\{\{\s*from\s`)
	templateRE      = regexp.MustCompile(`^\s*\{\{\s*from\s+([A-Za-z0-9]+)\s+(\S+)\s*\}\}\s*$`)
)

// parseTemplate recognises a template value. Other text containing {{ }}
// (a jq or auth template of the source) is left alone.
func parseTemplate(s string) (*template, bool) {
	if !templateStartRE.MatchString(s) {
		return nil, false
	}
	m := templateRE.FindStringSubmatch(s)
	if m == nil {
		return &template{malformed: true, raw: s}, true
	}
	return &template{provider: m[1], arg: m[2], raw: s}, true
}

// templateNote records a template whose variable is not set.
type templateNote struct {
	path   string // snake_case path of the setting
	origin Origin // where the template is written
	name   string // the variable
}

func (n templateNote) String() string {
	return fmt.Sprintf("%s reads env %s, which is not set", n.origin.position(), n.name)
}

// resolveTemplates replaces every template in tree by its variable's value
// (the process environment first, then .env). A template whose variable is
// unset gives way to the default (a list item is dropped) and is noted:
// Validate and ApplySpec turn the note into an error for a required
// setting, Warnings into a warning otherwise.
func (l *loader) resolveTemplates(v *value, path string) {
	switch v.kind {
	case objectValue:
		for _, k := range v.sortedKeys() {
			c := v.fields[k]
			p := join(path, k)
			if c.tmpl == nil {
				l.resolveTemplates(c, p)
				continue
			}
			if r := l.resolveTemplate(c, p); r != nil {
				v.fields[k] = r
			} else {
				delete(v.fields, k)
			}
		}
	case listValue:
		kept := v.items[:0]
		for i, c := range v.items {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.tmpl == nil {
				l.resolveTemplates(c, p)
				kept = append(kept, c)
				continue
			}
			if r := l.resolveTemplate(c, p); r != nil && r.origin.Kind != FromDefault {
				kept = append(kept, r)
			}
		}
		v.items = kept
	}
}

// resolveTemplate returns the value that replaces template leaf c at path,
// or nil to remove it.
func (l *loader) resolveTemplate(c *value, path string) *value {
	t := c.tmpl
	key := l.display(path)
	switch {
	case t.malformed:
		l.errorf(key, c.origin, "%q is not a template; write {{ from env NAME }}", t.raw)
		return l.defaultAt(path)
	case t.provider != "env":
		l.errorf(key, c.origin, "unknown template provider %q; only {{ from env NAME }} is supported", t.provider)
		return l.defaultAt(path)
	}
	if val, ok := l.lookupVar(t.arg); ok {
		o := c.origin
		o.Var = t.arg
		r := newScalar(val, o)
		r.key, r.keyAt = c.key, c.keyAt
		return r
	}
	l.meta.notes = append(l.meta.notes, templateNote{path: path, origin: c.origin, name: t.arg})
	return l.defaultAt(path)
}

// lookupVar reads a template's variable: the process environment, then
// .env (Ocean reads only the former; a .env-only variable working too is
// what a user of .env expects).
func (l *loader) lookupVar(name string) (string, bool) {
	if v, ok := l.env[name]; ok {
		return v, true
	}
	v, ok := l.dotenv[name]
	return v, ok
}

// defaultAt returns the default tree's node at a dotted path, or nil.
func (l *loader) defaultAt(path string) *value {
	if strings.Contains(path, "[") {
		return nil
	}
	v := l.defaults
	for _, p := range strings.Split(path, ".") {
		if v == nil || v.kind != objectValue {
			return nil
		}
		v = v.fields[p]
	}
	return v
}
