package config

import (
	"reflect"
	"strings"
)

// field is one setting or group of settings, read from the Settings
// struct's tags.
type field struct {
	key      string // snake_case name
	path     string // dotted snake_case path from the root
	index    []int  // reflect field index from the root struct
	typ      reflect.Type
	def      string
	hasDef   bool
	required bool
	secret   bool
	ignored  string // why oceand does not act on it; inherited

	children []*field          // struct fields, in declaration order
	byKey    map[string]*field // children by key
}

type fieldKind int

const (
	kindLeaf   fieldKind = iota // scalar or list
	kindStruct                  // a group of settings
	kindMap                     // free-form object (integration.config)
)

func (f *field) kind() fieldKind {
	t := f.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return kindStruct
	case reflect.Map:
		return kindMap
	}
	return kindLeaf
}

// isList reports whether the setting holds a list.
func (f *field) isList() bool { return f.typ.Kind() == reflect.Slice }

// schema is the tree of settings built from the Settings struct.
type schema struct {
	root  *field
	leafs []*field // every leaf and map field, in declaration order
}

func newSchema() *schema {
	s := &schema{}
	s.root = &field{typ: reflect.TypeFor[Settings]()}
	s.build(s.root)
	return s
}

func (s *schema) build(parent *field) {
	t := parent.typ
	parent.byKey = map[string]*field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("key")
		if key == "" {
			continue
		}
		f := &field{
			key:      key,
			path:     join(parent.path, key),
			index:    append(append([]int(nil), parent.index...), i),
			typ:      sf.Type,
			required: sf.Tag.Get("required") == "true",
			secret:   sf.Tag.Get("secret") == "true",
			ignored:  parent.ignored,
		}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		if why := sf.Tag.Get("ignored"); why != "" {
			f.ignored = why
		}
		parent.children = append(parent.children, f)
		parent.byKey[key] = f
		if f.kind() == kindStruct {
			s.build(f)
			continue
		}
		s.leafs = append(s.leafs, f)
	}
}

// lookup finds the setting at a snake_case path; nil if there is none or
// the path goes inside a free-form object.
func (s *schema) lookup(path []string) *field {
	f := s.root
	for _, p := range path {
		if f.kind() != kindStruct {
			return nil
		}
		f = f.byKey[p]
		if f == nil {
			return nil
		}
	}
	return f
}

// lookupPath is lookup for a dotted path.
func (s *schema) lookupPath(path string) *field {
	if path == "" {
		return s.root
	}
	return s.lookup(strings.Split(path, "."))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
