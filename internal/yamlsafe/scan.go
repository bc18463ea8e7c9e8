package yamlsafe

import (
	"bytes"
	"fmt"
)

// scanner is the pre-scan: one pass over the raw bytes that estimates what
// goccy/go-yaml would build (nesting, nodes, keys per block mapping) and
// stops at the first limit crossed, before goccy allocates anything. It
// follows quotes, comments, flow collections and block scalars closely
// enough to count; it does not validate (goccy does that afterwards).
type scanner struct {
	lim  Limits
	data []byte

	line, col  int  // 1-based position of data[i]
	flow       int  // depth of [ and {
	quote      byte // ' or " while inside a quoted scalar
	tokenStart bool // the next non-space character starts a node
	nodes      int
	keyWork    int
	frames     []frame // open block collections, by indentation
	// blockIndent >= 0: inside a block scalar whose owner (its key, or
	// the "- " of its entry) is at this column; its text is the lines
	// indented more.
	blockIndent int
	// owner is the column of what would own a block scalar starting on
	// the current line.
	owner   int
	content bool // the first document has content
}

// frame is one open block collection: its column and how many keys it has.
type frame struct {
	col, keys int
}

// scan checks data against the limits. It returns where the first
// document ends (len(data) if there is one document) and, when a second
// document with content follows, the line it starts on.
func (s *scanner) scan() (end, secondLine int, err error) {
	s.line, s.blockIndent = 1, -1
	data := s.data
	for start := 0; start < len(data); {
		nl := bytes.IndexByte(data[start:], '\n')
		stop := len(data)
		if nl >= 0 {
			stop = start + nl
		}
		line := data[start:stop]
		if isDocMarker(line) && s.quote == 0 && (s.content || bytes.HasPrefix(line, []byte("..."))) {
			if hasContent(data[start:]) {
				return start, s.line, nil
			}
			return start, 0, nil
		}
		if err := s.scanLine(line); err != nil {
			return 0, 0, err
		}
		s.line++
		start = stop + 1
	}
	return len(data), 0, nil
}

// hasContent reports whether rest, which starts at a document marker,
// holds anything but markers, comments and blank lines.
func hasContent(rest []byte) bool {
	for len(rest) > 0 {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		rest = after
		t := bytes.TrimSpace(line)
		if isDocMarker(line) {
			t = bytes.TrimSpace(t[3:])
		}
		if len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}

func isDocMarker(line []byte) bool {
	if len(line) < 3 || !(bytes.HasPrefix(line, []byte("---")) || bytes.HasPrefix(line, []byte("..."))) {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r'
}

func (s *scanner) fail(format string, args ...any) error {
	return &Error{Line: s.line, Column: s.col, Message: fmt.Sprintf(format, args...)}
}

func (s *scanner) depth() int { return len(s.frames) + s.flow }

func (s *scanner) addNode() error {
	s.nodes++
	s.content = true
	if s.nodes > s.lim.MaxNodes {
		return s.fail("more than %d YAML nodes (values, keys, lists and objects); refused before parsing", s.lim.MaxNodes)
	}
	return nil
}

func (s *scanner) scanLine(line []byte) error {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	blank := indent == len(line) || line[indent] == '#' || line[indent] == '\r'
	if s.blockIndent >= 0 {
		if blank || indent > s.blockIndent {
			return nil // the text of a block scalar
		}
		s.blockIndent = -1
	}
	if blank && s.quote == 0 {
		return nil
	}
	i := indent
	s.owner = indent
	if isDocMarker(line) {
		// "--- value": the value follows the marker
		for i = 3; i < len(line) && line[i] == ' '; i++ {
		}
	}
	if s.quote == 0 && s.flow == 0 {
		// Block context: the indentation says which collections are open.
		for len(s.frames) > 0 && s.frames[len(s.frames)-1].col > indent {
			s.frames = s.frames[:len(s.frames)-1]
		}
		s.tokenStart = true
		// "- " and "? " open a nested node at the column after them.
		for i < len(line) && (line[i] == '-' || line[i] == '?') && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\r') {
			s.col = i + 1
			if err := s.openFrame(i); err != nil {
				return err
			}
			s.owner = i
			i++
			for i < len(line) && line[i] == ' ' {
				i++
			}
		}
		if i < len(line) && line[i] != '#' && line[i] != '\r' {
			s.col = i + 1
			if err := s.openFrame(i); err != nil {
				return err
			}
			if s.isBlockKey(line[i:]) {
				s.owner = i
				if err := s.addKey(); err != nil {
					return err
				}
			}
		}
	}
	return s.scanTokens(line, i, indent)
}

// openFrame makes sure a block collection is open at col.
func (s *scanner) openFrame(col int) error {
	if n := len(s.frames); n > 0 && s.frames[n-1].col == col {
		return nil
	}
	s.frames = append(s.frames, frame{col: col})
	if s.depth() > s.lim.MaxDepth {
		return s.fail("YAML nested more than %d levels deep; refused before parsing", s.lim.MaxDepth)
	}
	return nil
}

// addKey counts a key of the innermost block mapping. goccy parses a
// block mapping in time and allocations that grow with the square of its
// keys, so their number is bounded per mapping and over the file.
func (s *scanner) addKey() error {
	f := &s.frames[len(s.frames)-1]
	f.keys++
	s.keyWork += f.keys
	if f.keys > s.lim.MaxKeys {
		return s.fail("a mapping with more than %d keys; refused before parsing", s.lim.MaxKeys)
	}
	if s.keyWork > s.lim.MaxKeys*s.lim.MaxKeys {
		return s.fail("too many keys in large mappings (the file may hold two mappings of %d keys, or more smaller ones); refused before parsing", s.lim.MaxKeys)
	}
	return nil
}

// isBlockKey reports whether rest (a line from its first node on) is a
// block mapping entry: a ": " outside quotes and flow collections.
func (s *scanner) isBlockKey(rest []byte) bool {
	if len(rest) == 0 {
		return false
	}
	i := 0
	switch rest[0] {
	case '[', '{', '|', '>', '#', '*':
		return rest[0] == '*' && bytes.Contains(rest, []byte(": ")) // *alias: value
	case '\'', '"':
		q := rest[0]
		for i = 1; i < len(rest); i++ {
			if rest[i] == '\\' && q == '"' {
				i++
				continue
			}
			if rest[i] == q {
				if q == '\'' && i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				break
			}
		}
		i++
	}
	for ; i < len(rest); i++ {
		switch rest[i] {
		case ':':
			if i+1 == len(rest) || rest[i+1] == ' ' || rest[i+1] == '\t' || rest[i+1] == '\r' {
				return true
			}
		case '#':
			if i > 0 && (rest[i-1] == ' ' || rest[i-1] == '\t') {
				return false
			}
		}
	}
	return false
}

// scanTokens follows quotes, comments, flow collections, anchors and
// aliases from line[i:], counting nodes. indent is the line's.
func (s *scanner) scanTokens(line []byte, i, indent int) error {
	for ; i < len(line); i++ {
		c := line[i]
		s.col = i + 1
		if s.quote != 0 {
			switch {
			case c == '\\' && s.quote == '"':
				i++
			case c == s.quote && s.quote == '\'' && i+1 < len(line) && line[i+1] == '\'':
				i++
			case c == s.quote:
				s.quote = 0
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			continue
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return nil
		case c == '[' || c == '{':
			if s.flow == 0 && !s.tokenStart {
				continue // part of a plain scalar: a[0]
			}
			if err := s.addNode(); err != nil {
				return err
			}
			s.flow++
			if s.depth() > s.lim.MaxDepth {
				return s.fail("YAML nested more than %d levels deep; refused before parsing", s.lim.MaxDepth)
			}
			s.tokenStart = true
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
			s.tokenStart = false
		case c == ',' && s.flow > 0:
			s.tokenStart = true
		case c == ':' && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t' || line[i+1] == '\r' || (s.flow > 0 && i > 0 && (line[i-1] == '"' || line[i-1] == '\''))):
			s.tokenStart = true
		case c == '-' && s.tokenStart && (i+1 == len(line) || line[i+1] == ' '):
			// a block sequence entry, already counted as a frame
		case s.tokenStart && (c == '&' || c == '!'):
			// an anchor or tag: the node follows it
			for i+1 < len(line) && line[i+1] != ' ' && line[i+1] != ',' && line[i+1] != ']' && line[i+1] != '}' {
				i++
			}
		case s.tokenStart && (c == '|' || c == '>') && s.flow == 0:
			if err := s.addNode(); err != nil {
				return err
			}
			s.blockIndent = s.owner
			return nil
		case s.tokenStart:
			if err := s.addNode(); err != nil {
				return err
			}
			s.tokenStart = false
			if c == '\'' || c == '"' {
				s.quote = c
			}
		}
	}
	if s.quote == 0 {
		s.tokenStart = s.flow > 0 // a line break in a flow collection separates nothing, but a new line in block context starts afresh
	}
	return nil
}
