// Package yamlsafe reads YAML written by someone else (config.yaml, mapping
// files, a source's spec) without letting a few bytes take the process
// down. goccy/go-yaml, the parser oceand uses, has no limits of its own and
// costs far more than the input: about 1 KB of heap per node, time and
// allocations quadratic in the keys of one block mapping, the nesting of
// flow collections and the number of documents; and the readers that walk
// its tree expand every alias. So Parse first scans the raw bytes (size,
// nesting, nodes, keys per mapping) and refuses, with the line, what would
// cost too much, before goccy sees them; then, on goccy's tree, it bounds
// what aliases add once expanded, and accepts a key written twice as PyYAML
// (and so Ocean) does: the last one wins, reported as a Duplicate.
//
// It also holds what config and mapping share when they place values by
// line: following tags, anchors and aliases (Document.Unwrap) and the text
// of a key (Document.KeyText).
package yamlsafe

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits bound one YAML input. Zero fields take DefaultLimits' values.
type Limits struct {
	// MaxBytes is the size of the file.
	MaxBytes int
	// MaxDepth is how deeply collections may nest.
	MaxDepth int
	// MaxNodes is how many values, keys and collections the file may
	// hold, as written (aliases not expanded).
	MaxNodes int
	// MaxKeys is how many keys one block mapping may have; the file may
	// hold two such mappings, or more smaller ones: the sum over block
	// mappings of keys²/2 is at most MaxKeys² (see scanner.addKey).
	MaxKeys int
	// MaxAliasNodes is how many nodes aliases and merge keys may add
	// once expanded.
	MaxAliasNodes int
}

// DefaultLimits are far above any real config.yaml or mapping (which hold
// a few thousand nodes at most) and keep the heap that reading one takes,
// goccy's tree and the readers' included, under about 150 MB (measured
// in TestLimitsBoundTheHeap).
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:      1 << 20,
		MaxDepth:      100,
		MaxNodes:      50_000,
		MaxKeys:       2_000,
		MaxAliasNodes: 100_000,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = d.MaxKeys
	}
	if l.MaxAliasNodes <= 0 {
		l.MaxAliasNodes = d.MaxAliasNodes
	}
	return l
}

// Error is why a YAML input was refused: a syntax error or a limit, at
// its line and column (zero when the whole file is meant).
type Error struct {
	Line, Column int
	Message      string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// Position is where a node is written; Line and Column start at 1.
type Position struct{ Line, Column int }

// Duplicate is a mapping key written twice. The value of the second (Last)
// is kept, as PyYAML does.
type Duplicate struct {
	Key         string
	First, Last Position
}

// Document is the first document of a YAML input.
type Document struct {
	// Body is its syntax tree, nil when it is empty.
	Body ast.Node
	// Value is goccy/go-yaml's decoding of Body into any: maps
	// (map[string]any), lists, strings, uint64/int64, float64, bool, nil.
	Value any
	// Duplicates lists the keys written twice, by line.
	Duplicates []Duplicate
	// SecondDocument is the line where a second document with content
	// starts (0: none). It is not parsed.
	SecondDocument int

	// aliases holds the node each alias stands for.
	aliases map[*ast.AliasNode]ast.Node
}

// Parse reads the first document of data within lim (zero fields take
// DefaultLimits). Any failure is an *Error.
func Parse(data []byte, lim Limits) (*Document, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, tooLarge(size(len(data)), lim)
	}
	s := &scanner{lim: lim, data: data}
	end, second, err := s.scan()
	if err != nil {
		return nil, err
	}
	doc := &Document{SecondDocument: second, aliases: map[*ast.AliasNode]ast.Node{}}
	f, err := parser.ParseBytes(data[:end], 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxError(err)
	}
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			doc.Body = d.Body
			break
		}
	}
	if doc.Body == nil {
		return doc, nil
	}
	c := &counter{doc: doc, current: map[string]sized{}, maxAdded: lim.MaxAliasNodes}
	c.size(doc.Body)
	if c.over {
		return nil, &Error{Line: c.crossed.Line, Column: c.crossed.Column,
			Message: fmt.Sprintf("aliases expand to more than %d nodes; refused before decoding", lim.MaxAliasNodes)}
	}
	doc.Duplicates = c.duplicates
	slices.SortStableFunc(doc.Duplicates, func(a, b Duplicate) int { return cmp.Compare(a.Last.Line, b.Last.Line) })
	if err := yaml.NodeToValue(doc.Body, &doc.Value, yaml.AllowDuplicateMapKey()); err != nil {
		return nil, syntaxError(err)
	}
	return doc, nil
}

// syntaxError is goccy's error at its position, without its source
// excerpt (which could show a secret).
func syntaxError(err error) *Error {
	e := &Error{Message: "invalid YAML: " + yaml.FormatError(err, false, false)}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = "invalid YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

func size(n int) string {
	if n >= 1<<20 {
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
}

// Unwrap follows tags, anchors, aliases and explicit keys (? key) to the
// node holding the value; nil for an alias to no anchor.
func (d *Document) Unwrap(n ast.Node) ast.Node {
	for range 64 { // an alias cycle is not followed forever
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			target, ok := d.aliases[t]
			if !ok {
				return nil
			}
			n = target
		case *ast.MappingKeyNode:
			n = t.Value
		default:
			return n
		}
	}
	return nil
}

// KeyText is a mapping key as goccy decodes it into a map key.
func (d *Document) KeyText(k ast.Node) string {
	k = d.Unwrap(k)
	switch t := k.(type) {
	case nil:
		return ""
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

// At is where n is written (zero if unknown).
func At(n ast.Node) Position {
	if n == nil {
		return Position{}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return Position{Line: tk.Position.Line, Column: tk.Position.Column}
	}
	return Position{}
}

// counter walks the tree once in document order: it sizes it as written
// and with aliases expanded, resolves each alias to the anchor defined
// last before it (as goccy's decoder does), and finds duplicate keys.
type counter struct {
	doc        *Document
	current    map[string]sized // anchors defined so far, by name
	duplicates []Duplicate
	// added is what the aliases met so far add once expanded: each adds
	// its target's expanded size less itself, so the sum is exact.
	added, maxAdded int
	over            bool
	crossed         Position // the alias that took added past maxAdded
}

type sized struct {
	node     ast.Node
	expanded int
}

// saturate keeps sizes from overflowing: 9 aliases to 9 aliases to ...
const saturate = 1 << 40

// size returns the nodes under n as written and as expanded.
func (c *counter) size(n ast.Node) (written, expanded int) {
	switch t := n.(type) {
	case nil:
		return 0, 0
	case *ast.AnchorNode:
		name := ""
		if t.Name != nil {
			name = t.Name.GetToken().Value
			c.current[name] = sized{node: t.Value, expanded: 1} // an alias inside itself counts as one
		}
		w, e := c.size(t.Value)
		if name != "" {
			c.current[name] = sized{node: t.Value, expanded: e}
		}
		return w, e
	case *ast.AliasNode:
		if t.Value == nil {
			return 1, 1
		}
		a, ok := c.current[t.Value.GetToken().Value]
		if !ok {
			return 1, 1
		}
		c.doc.aliases[t] = a.node
		c.added = min(saturate, c.added+a.expanded-1)
		if c.added > c.maxAdded && !c.over {
			c.over, c.crossed = true, At(t)
		}
		return 1, a.expanded
	case *ast.TagNode:
		return c.size(t.Value)
	case *ast.MappingKeyNode:
		return c.size(t.Value)
	case *ast.MappingValueNode:
		kw, ke := c.size(t.Key)
		vw, ve := c.size(t.Value)
		return kw + vw, min(saturate, ke+ve)
	case *ast.MappingNode:
		w, e := 1, 1
		for _, mv := range t.Values {
			mw, me := c.size(mv)
			w, e = w+mw, min(saturate, e+me)
		}
		c.findDuplicates(t)
		return w, e
	case *ast.SequenceNode:
		w, e := 1, 1
		for _, v := range t.Values {
			vw, ve := c.size(v)
			w, e = w+vw, min(saturate, e+ve)
		}
		return w, e
	}
	return 1, 1
}

func (c *counter) findDuplicates(m *ast.MappingNode) {
	first := map[string]Position{}
	for _, mv := range m.Values {
		if mv.Key == nil || mv.Key.IsMergeKey() {
			continue
		}
		k := c.doc.KeyText(mv.Key)
		at := At(mv.Key)
		if prev, ok := first[k]; ok {
			c.duplicates = append(c.duplicates, Duplicate{Key: k, First: prev, Last: at})
		}
		first[k] = at
	}
}

// ReadFile reads a YAML file of at most lim.MaxBytes without reading more:
// a larger file is an *Error before its bytes are in memory.
func ReadFile(path string, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > int64(lim.MaxBytes) {
		return nil, tooLarge(size(int(min(st.Size(), math.MaxInt))), lim)
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(lim.MaxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > lim.MaxBytes {
		return nil, tooLarge("more than "+size(lim.MaxBytes), lim)
	}
	return data, nil
}

func tooLarge(what string, lim Limits) *Error {
	return &Error{Message: fmt.Sprintf("the file is %s, larger than the %s a YAML file may be; refused before parsing", what, size(lim.MaxBytes))}
}
