package config

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// readYAML parses config.yaml into a tree whose every node knows its line
// and column. Values are goccy/go-yaml's own decoding (anchors, merge keys
// and tags included); positions come from walking the syntax tree beside
// them, so a value the walk cannot place gets its parent's position.
func readYAML(data []byte, file string) (*value, []Problem) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, []Problem{yamlProblem(err, file)}
	}
	if raw == nil {
		return nil, nil
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, []Problem{yamlProblem(err, file)}
	}
	r := &yamlReader{file: file, anchors: map[string]ast.Node{}}
	var body ast.Node
	var problems []Problem
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		ast.Walk(r, doc.Body)
		if body == nil {
			body = doc.Body
			continue
		}
		problems = append(problems, Problem{Origin: r.at(doc.Body), Message: "a second YAML document; only the first is read", Warning: true})
		break
	}
	if _, ok := raw.(map[string]any); !ok {
		root := r.at(body)
		return nil, append(problems, Problem{Origin: root, Message: "must be a mapping of settings (key: value lines), got " + fromJSON(raw, root).describe()})
	}
	return r.node(raw, body, Origin{Kind: FromFile, File: file, Line: 1, Column: 1}), problems
}

// yamlProblem turns a goccy/go-yaml error into a problem at its position,
// without the source excerpt (the excerpt could show a secret).
func yamlProblem(err error, file string) Problem {
	p := Problem{Origin: Origin{Kind: FromFile, File: file}, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		p.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Origin.Line, p.Origin.Column = tk.Position.Line, tk.Position.Column
		}
	} else {
		p.Message = yaml.FormatError(err, false, false)
	}
	p.Message = "invalid YAML: " + p.Message
	return p
}

type yamlReader struct {
	file    string
	anchors map[string]ast.Node
}

// Visit collects anchors so aliases can be followed to their positions.
func (r *yamlReader) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		r.anchors[a.Name.GetToken().Value] = a.Value
	}
	return r
}

func (r *yamlReader) at(n ast.Node) Origin {
	o := Origin{Kind: FromFile, File: r.file}
	if n == nil {
		return o
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		o.Line, o.Column = tk.Position.Line, tk.Position.Column
	}
	return o
}

// unwrap follows tags, anchors and aliases to the node holding the value.
func (r *yamlReader) unwrap(n ast.Node) ast.Node {
	for range 64 { // bounded: an alias cycle is not followed forever
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			if t.Value == nil {
				return nil
			}
			target, ok := r.anchors[t.Value.GetToken().Value]
			if !ok {
				return nil
			}
			n = target
		default:
			return n
		}
	}
	return nil
}

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

func (r *yamlReader) keyText(k ast.Node) string {
	k = r.unwrap(k)
	if k == nil {
		return ""
	}
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		k = r.unwrap(mk.Value)
		if k == nil {
			return ""
		}
	}
	switch t := k.(type) {
	case *ast.StringNode:
		return t.Value
	case *ast.IntegerNode:
		return fmt.Sprint(t.Value)
	case *ast.FloatNode:
		return strconv.FormatFloat(t.Value, 'g', -1, 64)
	case *ast.BoolNode:
		return strconv.FormatBool(t.Value)
	}
	if tk := k.GetToken(); tk != nil && tk.Type != token.UnknownType {
		return tk.Value
	}
	return ""
}

func isMap(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}
