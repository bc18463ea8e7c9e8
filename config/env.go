package config

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Environment prefixes: Ocean's settings and its ApplicationSettings.
const (
	envPrefix    = "OCEAN__"
	appEnvPrefix = "APPLICATION__"
)

// envVar is one variable from the environment, .env or a flag.
type envVar struct {
	name, value string
	origin      Origin
}

func envMap(environ []string) map[string]string {
	out := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// settingPath turns OCEAN__A__B_C into [a b_c] (case-insensitive) and
// APPLICATION__X into [application x]; ok is false for other variables.
func settingPath(name string) (path []string, ok bool) {
	var root []string
	rest, ok := cutPrefixFold(name, envPrefix)
	if !ok {
		if rest, ok = cutPrefixFold(name, appEnvPrefix); !ok {
			return nil, false
		}
		root = []string{"application"}
	}
	if rest == "" {
		return nil, false
	}
	return append(root, strings.Split(strings.ToLower(rest), "__")...), true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// envName is the OCEAN__ variable of a snake_case setting path.
func envName(path string) string {
	prefix := envPrefix
	if rest, ok := strings.CutPrefix(path, "application."); ok {
		prefix, path = appEnvPrefix, rest
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

// envLayer builds a settings tree from OCEAN__/APPLICATION__ variables.
// Shallow variables are applied first so that nested ones are merged over
// a whole object given as JSON (OCEAN__EVENT_LISTENER='{"type":"KAFKA"}'
// with OCEAN__EVENT_LISTENER__INTERVAL=5).
func (l *loader) envLayer(vars []envVar) *value {
	type entry struct {
		v    envVar
		path []string
	}
	var entries []entry
	for _, v := range vars {
		path, ok := settingPath(v.name)
		if !ok {
			continue
		}
		if slices.Contains(path, "") {
			l.warnf("", v.origin, "%s: empty name between __ separators; ignored", v.name)
			continue
		}
		entries = append(entries, entry{v, path})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(len(a.path), len(b.path)), cmp.Compare(a.v.name, b.v.name))
	})
	root := newObject(Origin{Kind: FromDefault})
	for _, e := range entries {
		if leaf := l.envLeaf(e.path, e.v.value, e.v.origin); leaf != nil {
			l.setPath(root, e.path, leaf)
		}
	}
	l.normalizeKeys(root, l.schema.root)
	return root
}

// flagLayer builds a settings tree from dotted snake_case paths.
func (l *loader) flagLayer(flags map[string]string) *value {
	root := newObject(Origin{Kind: FromDefault})
	keys := slices.Sorted(maps.Keys(flags))
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(strings.Count(a, "."), strings.Count(b, "."))
	})
	for _, k := range keys {
		path := strings.Split(k, ".")
		o := Origin{Kind: FromFlag, Var: k}
		if slices.Contains(path, "") {
			l.warnf("", o, "flag setting %q: empty path element; ignored", k)
			continue
		}
		if leaf := l.envLeaf(path, flags[k], o); leaf != nil {
			l.setPath(root, path, leaf)
		}
	}
	l.normalizeKeys(root, l.schema.root)
	return root
}

// envLeaf is an environment value as a tree: JSON when the setting is an
// object or a list and the value looks like one, else a string that the
// decoder coerces to the setting's type. Broken JSON for an object or a
// list is an error naming the variable, and the value is dropped (nil):
// variables setting parts of the same object must not hide it.
func (l *loader) envLeaf(path []string, s string, o Origin) *value {
	if f := l.schema.lookup(path); f != nil {
		t := strings.TrimSpace(s)
		wantObject := f.kind() != kindLeaf && strings.HasPrefix(t, "{")
		wantList := f.isList() && strings.HasPrefix(t, "[")
		if wantObject || wantList {
			var v any
			err := json.Unmarshal([]byte(t), &v)
			if err == nil {
				return fromJSON(v, o)
			}
			want := "a JSON object"
			if wantList {
				want = "a JSON list"
			}
			l.meta.failed[f.path] = true
			l.errorf(l.display(f.path), o, "must be %s, got invalid JSON (%s)", want, jsonProblem(err))
			return nil
		}
	}
	return newScalar(s, o)
}

// jsonProblem says what is wrong with a JSON value without quoting it:
// the value may hold a secret.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s, at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// setPath puts leaf at path, creating objects on the way. A JSON object
// given as a string on the way (an integration.config key) is opened so a
// deeper variable can be merged into it.
func (l *loader) setPath(root *value, path []string, leaf *value) {
	cur := root
	for i, p := range path[:len(path)-1] {
		next := cur.fields[p]
		if next != nil && next.kind == scalarValue {
			s, _ := next.scalar.(string)
			var m map[string]any
			err := json.Unmarshal([]byte(s), &m)
			switch {
			case strings.TrimSpace(s) == "":
				// An empty variable means "not set".
			case err == nil:
				next = fromJSON(m, next.origin)
			default:
				// A whole value that is no JSON object, and a variable
				// that sets a part of it: neither may win silently.
				what := "is not a JSON object"
				if strings.HasPrefix(strings.TrimSpace(s), "{") {
					what = "is invalid JSON (" + jsonProblem(err) + ")"
				}
				at := strings.Join(path[:i+1], ".")
				l.meta.failed[at] = true
				l.errorf(l.display(at), next.origin, "%s, and %s sets a part of it; give the whole object as JSON or set its parts only",
					what, originName(leaf.origin))
				delete(cur.fields, p)
				return
			}
		}
		if next == nil || next.kind != objectValue {
			next = newObject(leaf.origin)
		}
		next.key = p
		cur.fields[p] = next
		cur = next
	}
	last := path[len(path)-1]
	leaf.key, leaf.keyAt = last, leaf.origin
	cur.fields[last] = merge(cur.fields[last], leaf)
}

// originName names the variable or flag of an origin.
func originName(o Origin) string {
	switch {
	case o.Kind == FromFlag && o.Var != "":
		return "flag " + o.Var
	case (o.Kind == FromEnv || o.Kind == FromDotEnv) && o.Var != "":
		return o.Var
	}
	return o.String()
}
