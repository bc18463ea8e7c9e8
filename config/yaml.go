package config

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml/ast"

	"oceand/internal/yamlsafe"
)

// readYAML parses config.yaml into a tree whose every node knows its line
// and column. Values are goccy/go-yaml's own decoding (anchors, merge keys
// and tags included); positions come from walking the syntax tree beside
// them, so a value the walk cannot place gets its parent's position. The
// input is bounded first (yamlsafe): a file that would cost too much to
// parse is refused with the line where it crosses a limit.
func readYAML(data []byte, file string) (*value, []Problem) {
	doc, err := yamlsafe.Parse(data, yamlsafe.Limits{})
	if err != nil {
		return nil, []Problem{yamlProblem(err, file)}
	}
	r := &yamlReader{file: file, doc: doc}
	var problems []Problem
	for _, d := range doc.Duplicates {
		problems = append(problems, Problem{Origin: r.origin(d.Last), Warning: true,
			Message: fmt.Sprintf("key %q is written twice, on lines %d and %d; the second is used, as Ocean (PyYAML) does", d.Key, d.First.Line, d.Last.Line)})
	}
	if doc.SecondDocument > 0 {
		problems = append(problems, Problem{Origin: Origin{Kind: FromFile, File: file, Line: doc.SecondDocument, Column: 1},
			Message: "a second YAML document; only the first is read", Warning: true})
	}
	if doc.Value == nil {
		return nil, problems
	}
	if _, ok := doc.Value.(map[string]any); !ok {
		root := r.at(doc.Body)
		return nil, append(problems, Problem{Origin: root, Message: "must be a mapping of settings (key: value lines), got " + fromJSON(doc.Value, root).describe()})
	}
	return r.node(doc.Value, doc.Body, Origin{Kind: FromFile, File: file, Line: 1, Column: 1}), problems
}

// yamlProblem is a refused input at its position.
func yamlProblem(err error, file string) Problem {
	p := Problem{Origin: Origin{Kind: FromFile, File: file}, Message: err.Error()}
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		p.Message = ye.Message
		p.Origin.Line, p.Origin.Column = ye.Line, ye.Column
	}
	return p
}

type yamlReader struct {
	file string
	doc  *yamlsafe.Document
}

func (r *yamlReader) origin(p yamlsafe.Position) Origin {
	return Origin{Kind: FromFile, File: r.file, Line: p.Line, Column: p.Column}
}

func (r *yamlReader) at(n ast.Node) Origin { return r.origin(yamlsafe.At(n)) }

func (r *yamlReader) unwrap(n ast.Node) ast.Node { return r.doc.Unwrap(n) }

// node builds the tree for a decoded value v, with positions from n.
func (r *yamlReader) node(v any, n ast.Node, fallback Origin) *value {
	n = r.unwrap(n)
	at := fallback
	if _, collection := v.([]any); !collection && n != nil && !isMap(v) {
		// A scalar is placed where it is written; an object or a list
		// where its key is (goccy places a mapping at its first colon).
		if pos := r.at(n); pos.Line > 0 {
			at = pos
		}
	}
	switch t := v.(type) {
	case map[string]any:
		entries := r.entries(n)
		obj := newObject(at)
		for k, e := range t {
			var keyNode, valNode ast.Node
			keyAt := at
			if mv, ok := entries[k]; ok {
				keyNode, valNode = mv.Key, mv.Value
				keyAt = r.at(keyNode)
			}
			c := r.node(e, valNode, keyAt)
			c.key, c.keyAt = k, keyAt
			obj.fields[k] = c
		}
		return obj
	case []any:
		l := &value{kind: listValue, origin: at}
		seq, _ := n.(*ast.SequenceNode)
		for i, e := range t {
			var item ast.Node
			if seq != nil && i < len(seq.Values) {
				item = seq.Values[i]
			}
			l.items = append(l.items, r.node(e, item, at))
		}
		return l
	case string:
		if tm, ok := parseTemplate(t); ok {
			return &value{kind: scalarValue, origin: at, tmpl: tm}
		}
		return newScalar(t, at)
	}
	return newScalar(plainScalar(v), at)
}

// entries indexes a mapping node's key/value pairs by key text.
func (r *yamlReader) entries(n ast.Node) map[string]*ast.MappingValueNode {
	out := map[string]*ast.MappingValueNode{}
	var pairs []*ast.MappingValueNode
	switch t := n.(type) {
	case *ast.MappingNode:
		pairs = t.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{t}
	}
	for _, mv := range pairs {
		if mv.Key == nil || mv.Key.IsMergeKey() {
			continue
		}
		out[r.keyText(mv.Key)] = mv
	}
	return out
}

func (r *yamlReader) keyText(k ast.Node) string { return r.doc.KeyText(k) }

func isMap(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}
