package mapping

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"oceand/internal/yamlsafe"
)

// Pos is where a value is written in a mapping file. Line and Column start
// at 1; zero means unknown (a mapping read from Port's JSON).
type Pos struct {
	Line, Column int
	// quote is how the scalar is written: '\'' or '"' when quoted, 0
	// when plain, 'x' when it is a block or anything else, so a column
	// inside the text cannot be computed.
	quote byte
	// plain is the text of a plain scalar as written (.nan, 1.50, yes),
	// which YAML may have read as another type.
	plain string
}

// sourceMap places every value of a parsed file by its path
// ("resources[1].port.entity.mappings.title"), and every key.
type sourceMap struct {
	file string
	at   map[string]Pos
	keys map[string]Pos
}

// pos is where the value at path is written; for a value that is not
// there (a missing key), where its closest ancestor is, so an error still
// points at the right place.
func (s *sourceMap) pos(path string) Pos {
	if s == nil {
		return Pos{}
	}
	if p, ok := s.at[path]; ok {
		return p
	}
	for path != "" {
		path = parentPath(path)
		if p, ok := s.at[path]; ok {
			return Pos{Line: p.Line, Column: p.Column, quote: 'x'}
		}
	}
	return Pos{}
}

// keyPos is where the key of path is written, else where its value is.
func (s *sourceMap) keyPos(path string) Pos {
	if s != nil {
		if p, ok := s.keys[path]; ok {
			return p
		}
	}
	return s.pos(path)
}

// parentPath drops the last key or index of a path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// readYAML decodes a mapping file. Values are goccy/go-yaml's own decoding
// (anchors, merge keys and tags included); positions come from walking the
// syntax tree beside them. The input is bounded first (yamlsafe): a file
// that would cost too much to parse is refused with the line where it
// crosses a limit. A key written twice keeps its last value, as Ocean's
// PyYAML does, with a warning naming both lines.
func readYAML(file string, data []byte) (any, *sourceMap, []Problem, error) {
	doc, err := yamlsafe.Parse(data, yamlsafe.Limits{})
	if err != nil {
		return nil, nil, nil, yamlError(file, err)
	}
	src := &sourceMap{file: file, at: map[string]Pos{}, keys: map[string]Pos{}}
	w := &yamlWalker{src: src, doc: doc}
	if doc.Body != nil {
		w.place("", doc.Body, 0)
	}
	var warnings []Problem
	for _, d := range doc.Duplicates {
		warnings = append(warnings, Problem{File: file, Line: d.Last.Line, Column: d.Last.Column,
			Message: fmt.Sprintf("key %q is written twice, on lines %d and %d; the second is used, as Ocean (PyYAML) does", d.Key, d.First.Line, d.Last.Line)})
	}
	return doc.Value, src, warnings, nil
}

// yamlError is a refused input at its position.
func yamlError(file string, err error) error {
	p := Problem{File: file, Message: err.Error()}
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		p.Line, p.Column, p.Message = ye.Line, ye.Column, ye.Message
	}
	return &ParseError{Problems: []Problem{p}}
}

type yamlWalker struct {
	src *sourceMap
	doc *yamlsafe.Document
}

func (w *yamlWalker) unwrap(n ast.Node) ast.Node { return w.doc.Unwrap(n) }

func (w *yamlWalker) keyText(k ast.Node) string { return w.doc.KeyText(k) }

// place records the position of n at path and of everything inside it.
// depth bounds alias expansion.
func (w *yamlWalker) place(path string, n ast.Node, depth int) {
	n = w.unwrap(n)
	if n == nil || depth > 64 {
		return
	}
	switch t := n.(type) {
	case *ast.MappingNode:
		if _, ok := w.src.at[path]; !ok && len(t.Values) > 0 {
			// A mapping in a list is placed at its first key.
			if k := t.Values[0].Key; k != nil {
				if tk := k.GetToken(); tk != nil && tk.Position != nil {
					w.src.at[path] = Pos{Line: tk.Position.Line, Column: tk.Position.Column, quote: 'x'}
				}
			}
		}
		last := make(map[string]int, len(t.Values))
		for i, mv := range t.Values {
			if mv.Key != nil && !mv.Key.IsMergeKey() {
				last[w.keyText(mv.Key)] = i
			}
		}
		for i, mv := range t.Values {
			if mv.Key != nil && !mv.Key.IsMergeKey() && last[w.keyText(mv.Key)] != i {
				continue // written again below; the last is the value (PyYAML's rule)
			}
			w.placeEntry(path, mv, depth)
		}
	case *ast.MappingValueNode:
		w.placeEntry(path, t, depth)
	case *ast.SequenceNode:
		for i, v := range t.Values {
			w.place(fmt.Sprintf("%s[%d]", path, i), v, depth+1)
		}
	default:
		if _, ok := w.src.at[path]; !ok {
			w.src.at[path] = scalarPos(n)
		}
	}
}

func (w *yamlWalker) placeEntry(path string, mv *ast.MappingValueNode, depth int) {
	if mv.Key == nil || mv.Key.IsMergeKey() {
		if mv.Value != nil {
			w.place(path, mv.Value, depth+1) // <<: *base places the base's keys here
		}
		return
	}
	child := joinPath(path, w.keyText(mv.Key))
	if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
		w.src.keys[child] = Pos{Line: tk.Position.Line, Column: tk.Position.Column, quote: 'x'}
	}
	if v := w.unwrap(mv.Value); v != nil {
		switch v.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
			// A collection is placed at its key.
			if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
				w.src.at[child] = Pos{Line: tk.Position.Line, Column: tk.Position.Column, quote: 'x'}
			}
		}
	}
	w.place(child, mv.Value, depth+1)
}

// scalarPos is where a scalar's text starts, and how it is quoted.
func scalarPos(n ast.Node) Pos {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	p := Pos{Line: tk.Position.Line, Column: tk.Position.Column, plain: tk.Value}
	switch tk.Type {
	case token.SingleQuoteType:
		p.quote = '\''
	case token.DoubleQuoteType:
		p.quote = '"'
	case token.LiteralType, token.FoldedType:
		p.quote = 'x'
	}
	if p.quote != 0 {
		p.plain = ""
	}
	return p
}

// joinPath appends a key to a path the way fields are named in errors.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
