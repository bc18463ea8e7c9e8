package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// defaultNode builds the defaults tree of a setting from its tags.
func defaultNode(f *field) *value {
	o := Origin{Kind: FromDefault}
	switch f.kind() {
	case kindStruct:
		obj := newObject(o)
		for _, c := range f.children {
			if d := defaultNode(c); d != nil {
				obj.fields[c.key] = d
			}
		}
		return obj
	case kindMap:
		return newObject(o)
	}
	if !f.hasDef {
		return nil
	}
	return newScalar(f.def, o)
}

// normalizeKeys decamelizes the keys of a layer where the schema has
// settings, so clientId, client_id and CLIENT_ID meet. A free-form object
// (integration.config) has its first-level keys decamelized, as Ocean's
// spec model does, and its values kept as written: they may be request
// bodies or headers whose spelling matters.
func (l *loader) normalizeKeys(v *value, f *field) {
	if v == nil || v.kind != objectValue || f == nil || f.kind() == kindLeaf {
		return
	}
	out := make(map[string]*value, len(v.fields))
	for _, k := range v.sortedKeys() {
		c := v.fields[k]
		nk := Decamelize(k)
		if prev, dup := out[nk]; dup {
			l.errorf(l.display(join(f.path, nk)), c.keyAt, "set twice in one source, as %q and %q", prev.key, c.key)
			continue
		}
		out[nk] = c
		if f.kind() == kindStruct {
			l.normalizeKeys(c, f.byKey[nk])
		}
	}
	v.fields = out
}

// decodeStruct fills dst (a struct of settings) from the object v.
func (l *loader) decodeStruct(dst reflect.Value, f *field, v *value) {
	for _, c := range f.children {
		var cv *value
		if v != nil {
			cv = v.fields[c.key]
		}
		l.decodeField(dst.Field(c.index[len(c.index)-1]), c, cv)
	}
	if v == nil {
		return
	}
	for _, k := range v.sortedKeys() {
		if f.byKey[k] == nil {
			l.unknown(f, k, v.fields[k])
		}
	}
}

func (l *loader) decodeField(dst reflect.Value, f *field, v *value) {
	if v == nil {
		return
	}
	if v.kind == scalarValue && f.kind() == kindLeaf && f.typ.Kind() != reflect.String {
		// An empty variable (OCEAN__X=) or a YAML null means "not set".
		if s, ok := v.scalar.(string); (ok && strings.TrimSpace(s) == "") || v.scalar == nil {
			if v = defaultNode(f); v == nil {
				return
			}
		}
	}
	l.meta.origins[f.path] = v.origin
	switch f.kind() {
	case kindStruct:
		if v.kind != objectValue {
			l.typeError(f.path, v, "an object")
			l.decodeStruct(dst, f, defaultNode(f)) // its settings keep their defaults
			return
		}
		l.decodeStruct(dst, f, v)
	case kindMap:
		if v.kind == scalarValue && v.scalar == nil {
			return
		}
		if str, ok := v.scalar.(string); ok && v.kind == scalarValue {
			// A JSON object written as a string, as in a variable.
			var m map[string]any
			if json.Unmarshal([]byte(strings.TrimSpace(str)), &m) == nil {
				v = fromJSON(m, v.origin)
				l.normalizeKeys(v, f)
			}
		}
		if v.kind != objectValue {
			l.typeError(f.path, v, "an object")
			return
		}
		l.recordOrigins(f.path, v)
		dst.Set(reflect.ValueOf(v.plain()))
	default:
		rv, ok := coerce(f.typ, v)
		if !ok {
			l.typeError(f.path, v, typeName(f.typ))
			return
		}
		dst.Set(rv)
	}
}

// recordOrigins notes where every node of a free-form object came from.
func (l *loader) recordOrigins(path string, v *value) {
	l.meta.origins[path] = v.origin
	switch v.kind {
	case objectValue:
		for k, c := range v.fields {
			l.recordOrigins(join(path, k), c)
		}
	case listValue:
		for i, c := range v.items {
			l.recordOrigins(fmt.Sprintf("%s[%d]", path, i), c)
		}
	}
}

func (l *loader) typeError(path string, v *value, want string) {
	l.meta.failed[path] = true
	l.errorf(l.display(path), v.origin, "must be %s, got %s", want, l.meta.show(path, v))
}

// unknown warns about a key that is no setting, with a suggestion.
func (l *loader) unknown(parent *field, key string, v *value) {
	path := join(parent.path, key)
	o := v.keyAt
	if o.Kind == FromDefault {
		o = v.origin
	}
	name := l.display(parent.path)
	raw := v.key
	if raw == "" || o.Kind != FromFile {
		raw = key
	}
	name = join(name, raw)
	best := l.suggestField(parent, path)
	if best != nil && best.path == join(parent.path, best.key) && oneEditAway(o, path, best.key) && l.settingAt(best.path, o.Var) {
		meant := best.path
		if p, ok := settingPath(o.Var); ok && len(p) > strings.Count(path, ".")+1 {
			meant += "." + strings.Join(p[strings.Count(path, ".")+1:], ".")
		}
		l.errorf(name, o, "unknown setting; did you mean %s? (a variable one letter from a setting is refused: that setting would silently keep its default)", envName(meant))
		return
	}
	msg := "unknown setting, ignored"
	if s := l.suggest(parent, path, o); s != "" {
		msg += "; did you mean " + s + "?"
	}
	l.warnf(name, o, "%s", msg)
}

// settingAt reports whether the variable name v, with its part at path
// corrected, names a setting: OCEAN__EVENT_LISTNER__TYPE does, and
// OCEAN__PORTT__X does not (port has no x).
func (l *loader) settingAt(path, v string) bool {
	parts, ok := settingPath(v)
	depth := strings.Count(path, ".") + 1
	if !ok || len(parts) < depth {
		return false
	}
	f := l.schema.root
	for _, p := range append(strings.Split(path, "."), parts[depth:]...) {
		switch f.kind() {
		case kindMap:
			return true // any key of a free-form object
		case kindStruct:
			if f = f.byKey[p]; f == nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// coerce converts a value to a leaf setting's Go type, as pydantic
// coerces environment strings: "yes"/"on"/"1" are true, "42" is 42.
func coerce(t reflect.Type, v *value) (reflect.Value, bool) {
	switch t.Kind() {
	case reflect.Pointer:
		ev, ok := coerce(t.Elem(), v)
		if !ok {
			return reflect.Value{}, false
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(ev)
		return p, true
	case reflect.String:
		s, ok := asString(v)
		return reflect.ValueOf(s).Convert(t), ok
	case reflect.Bool:
		b, ok := asBool(v)
		return reflect.ValueOf(b).Convert(t), ok
	case reflect.Int:
		n, ok := asInt(v)
		return reflect.ValueOf(n).Convert(t), ok
	case reflect.Float64:
		x, ok := asFloat(v)
		return reflect.ValueOf(x).Convert(t), ok
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			l, ok := asStringList(v)
			return reflect.ValueOf(l).Convert(t), ok
		}
	}
	return reflect.Value{}, false
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list (or a comma-separated string)"
	}
	return t.String()
}

func asString(v *value) (string, bool) {
	if v.kind != scalarValue {
		return "", false
	}
	switch t := v.scalar.(type) {
	case string:
		return t, true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(t), true
	case nil:
		return "", true
	}
	return "", false
}

func asBool(v *value) (bool, bool) {
	if v.kind != scalarValue {
		return false, false
	}
	switch t := v.scalar.(type) {
	case bool:
		return t, true
	case float64:
		return t == 1, t == 0 || t == 1
	case string:
		return parseBool(t)
	}
	return false, false
}

// parseBool accepts what pydantic accepts for a boolean.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "y", "t":
		return true, true
	case "0", "false", "no", "off", "n", "f":
		return false, true
	}
	return false, false
}

func asInt(v *value) (int, bool) {
	if v.kind != scalarValue {
		return 0, false
	}
	switch t := v.scalar.(type) {
	case float64:
		if t != math.Trunc(t) || t > math.MaxInt64 || t < math.MinInt64 {
			return 0, false
		}
		return int(t), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		return n, err == nil
	}
	return 0, false
}

func asFloat(v *value) (float64, bool) {
	if v.kind != scalarValue {
		return 0, false
	}
	switch t := v.scalar.(type) {
	case float64:
		return t, true
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return x, err == nil && !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return 0, false
}

// asStringList reads a list, a JSON array string or a comma-separated
// string.
func asStringList(v *value) ([]string, bool) {
	switch v.kind {
	case listValue:
		out := make([]string, 0, len(v.items))
		for _, it := range v.items {
			s, ok := asString(it)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case scalarValue:
		s, ok := v.scalar.(string)
		if !ok {
			return nil, false
		}
		t := strings.TrimSpace(s)
		if strings.HasPrefix(t, "[") {
			var l []any
			if err := json.Unmarshal([]byte(t), &l); err != nil {
				return nil, false
			}
			return asStringList(fromJSON(l, v.origin))
		}
		out := []string{}
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, true
	}
	return nil, false
}

// show describes a value for an error message. Values of sensitive
// settings are never shown; long ones are cut.
func (m *meta) show(path string, v *value) string {
	if v.kind != scalarValue || m.sensitive(path) {
		d := v.describe()
		if v.kind == scalarValue && m.sensitive(path) {
			d += " (value hidden: the setting is sensitive)"
		}
		return d
	}
	switch t := v.scalar.(type) {
	case string:
		t = maskURLPassword(t)
		if utf8.RuneCountInString(t) > 60 {
			t = string([]rune(t)[:57]) + "..."
		}
		return strconv.Quote(t)
	case nil:
		return "null"
	}
	return fmt.Sprint(v.scalar)
}
