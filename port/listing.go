package port

import (
	"encoding/json"
	"errors"
	"strings"
)

// listingPage is one answer of the datasource listing. Reconciliation reads
// every entity the integration owns through it (100,000 entities: 20 pages
// of about 300 KB), and encoding/json spends most of a no-change resync's
// reconciliation decoding them. decodeResponse reads the usual shape
// directly and leaves anything unusual (escapes, non-ASCII, unexpected
// types) to encoding/json, so the result is always encoding/json's.
type listingPage struct {
	Entities []EntityRef `json:"entities"`
	Next     *string     `json:"next"`
}

// responseDecoder is implemented by answers with their own decoder.
type responseDecoder interface {
	decodeResponse(data []byte) error
}

func (p *listingPage) decodeResponse(data []byte) error {
	var fast listingPage
	if (&listingScanner{b: data}).page(&fast) {
		*p = fast
		return nil
	}
	*p = listingPage{}
	return json.Unmarshal(data, p)
}

// errUnusual stops the fast path; encoding/json then decodes the answer.
var errUnusual = errors.New("unusual listing")

// listingScanner reads a listing answer. Strings it returns share one
// allocation per page (ids) and one per distinct blueprint.
type listingScanner struct {
	b   []byte
	i   int
	err error
	// ids collects every identifier's bytes; refs point into it by
	// offset until the page is complete.
	ids []byte
	bps []string
}

func (s *listingScanner) page(out *listingPage) bool {
	type span struct{ bp, start, end int }
	spans := make([]span, 0, len(s.b)/64)
	s.ids = make([]byte, 0, len(s.b)/4)
	s.ws()
	s.expect('{')
	first, sawEntities, sawNext := true, false, false
	for s.err == nil {
		s.ws()
		if s.peek() == '}' {
			s.i++
			break
		}
		if !first {
			s.expect(',')
			s.ws()
		}
		first = false
		key := s.field(s.stringBytes(), "entities", "next")
		s.ws()
		s.expect(':')
		s.ws()
		if s.err != nil {
			break
		}
		switch key {
		case 0: // entities
			if sawEntities {
				s.err = errUnusual // a repeated key: encoding/json merges
				continue
			}
			sawEntities = true
			if s.peek() == 'n' {
				s.literal("null")
				spans = nil
				continue
			}
			s.expect('[')
			s.ws()
			if s.peek() == ']' {
				s.i++
				continue
			}
			for s.err == nil {
				bp, start, end := s.entity()
				spans = append(spans, span{bp, start, end})
				s.ws()
				if s.peek() == ',' {
					s.i++
					s.ws()
					continue
				}
				s.expect(']')
				break
			}
		case 1: // next
			if sawNext {
				s.err = errUnusual
				continue
			}
			sawNext = true
			if s.peek() == 'n' {
				s.literal("null")
				out.Next = nil
				continue
			}
			next := string(s.stringBytes())
			out.Next = &next
		default:
			s.skip()
		}
	}
	s.ws()
	if s.err != nil || s.i != len(s.b) {
		return false
	}
	ids := string(s.ids)
	out.Entities = make([]EntityRef, len(spans))
	for i, sp := range spans {
		out.Entities[i] = EntityRef{Identifier: ids[sp.start:sp.end]}
		if sp.bp >= 0 {
			out.Entities[i].Blueprint = s.bps[sp.bp]
		}
	}
	return true
}

// entity reads {"identifier": ..., "blueprint": ..., ...} and returns the
// blueprint (index into bps, -1 when absent) and the identifier's span in
// ids.
func (s *listingScanner) entity() (bp, start, end int) {
	bp, start, end = -1, len(s.ids), len(s.ids)
	s.expect('{')
	s.ws()
	if s.peek() == '}' {
		s.i++
		return
	}
	seenID, seenBP := false, false
	for s.err == nil {
		key := s.field(s.stringBytes(), "identifier", "blueprint")
		s.ws()
		s.expect(':')
		s.ws()
		switch {
		case s.err != nil:
		case key == 0 && !seenID:
			seenID = true
			start = len(s.ids)
			s.ids = append(s.ids, s.stringBytes()...)
			end = len(s.ids)
		case key == 1 && !seenBP:
			seenBP = true
			bp = s.blueprint(s.stringBytes())
		case key >= 0:
			s.err = errUnusual // a repeated key: encoding/json keeps the last
		default:
			s.skip()
		}
		s.ws()
		if s.peek() == ',' {
			s.i++
			s.ws()
			continue
		}
		s.expect('}')
		return
	}
	return
}

// field returns which of names key is (-1: none). A key naming one of
// them in another case stops the fast path: encoding/json matches field
// names ignoring case.
func (s *listingScanner) field(key []byte, names ...string) int {
	for i, n := range names {
		if len(key) != len(n) {
			continue
		}
		if string(key) == n {
			return i
		}
		if strings.EqualFold(string(key), n) {
			s.err = errUnusual
		}
	}
	return -1
}

// blueprint interns a blueprint name: a page holds few distinct ones.
func (s *listingScanner) blueprint(b []byte) int {
	for i, bp := range s.bps {
		if bp == string(b) {
			return i
		}
	}
	s.bps = append(s.bps, string(b))
	return len(s.bps) - 1
}

func (s *listingScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *listingScanner) peek() byte {
	if s.err != nil || s.i >= len(s.b) {
		s.err = errUnusual
		return 0
	}
	return s.b[s.i]
}

func (s *listingScanner) expect(c byte) {
	if s.peek() != c {
		s.err = errUnusual
		return
	}
	s.i++
}

func (s *listingScanner) literal(lit string) {
	if s.err != nil || len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.err = errUnusual
		return
	}
	s.i += len(lit)
}

// stringBytes reads a string made of printable ASCII without escapes, the
// only kind the fast path takes; anything else is left to encoding/json.
func (s *listingScanner) stringBytes() []byte {
	s.expect('"')
	if s.err != nil {
		return nil
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1]
		case c == '\\' || c < 0x20 || c >= 0x80:
			s.err = errUnusual
			return nil
		}
		s.i++
	}
	s.err = errUnusual
	return nil
}

// skip passes over one value of any type, checking its syntax as
// encoding/json would: what the fast path accepts, encoding/json accepts.
func (s *listingScanner) skip() { s.value(0) }

// maxDepth bounds the nesting the fast path follows; deeper answers go to
// encoding/json.
const maxDepth = 64

func (s *listingScanner) value(depth int) {
	if depth > maxDepth {
		s.err = errUnusual
		return
	}
	switch c := s.peek(); {
	case s.err != nil:
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return
		}
		for s.err == nil {
			s.stringBytes()
			s.ws()
			s.expect(':')
			s.ws()
			s.value(depth + 1)
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.expect('}')
			return
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return
		}
		for s.err == nil {
			s.value(depth + 1)
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.expect(']')
			return
		}
	case c == '"':
		s.stringBytes()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.number()
	}
}

// number passes over a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *listingScanner) number() {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		s.err = errUnusual
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			s.err = errUnusual
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			s.err = errUnusual
		}
	}
}

func (s *listingScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
