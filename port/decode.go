package port

import (
	"encoding/json"
	"errors"
	"strings"
)

// The two answers a resync reads most, the datasource listing (every entity
// the integration owns, 5,000 a page) and the bulk upsert's results (one
// per entity written), are read by a scanner of their usual shape instead
// of encoding/json, which spent most of the client's time on them. Anything
// unusual (escapes, non-ASCII, a number that is not a plain integer, a key
// in another case, a repeated key) sends the whole answer to encoding/json,
// so the result is always encoding/json's; FuzzDecode checks it.

// responseDecoder is implemented by answers with their own decoder.
type responseDecoder interface {
	decodeResponse(data []byte) error
}

// listingPage is one answer of the datasource listing.
type listingPage struct {
	Entities []EntityRef `json:"entities"`
	Next     *string     `json:"next"`
}

func (p *listingPage) decodeResponse(data []byte) error {
	var fast listingPage
	if (&scanner{b: data}).listing(&fast) {
		*p = fast
		return nil
	}
	*p = listingPage{}
	return json.Unmarshal(data, p)
}

// bulkResponse is the answer of a bulk upsert.
type bulkResponse struct {
	Entities []bulkEntity `json:"entities"`
	Errors   []bulkError  `json:"errors"`
}

type bulkEntity struct {
	Identifier string `json:"identifier"`
	Index      int    `json:"index"`
	Created    bool   `json:"created"`
}

type bulkError struct {
	Identifier string `json:"identifier"`
	Index      int    `json:"index"`
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
}

func (r *bulkResponse) decodeResponse(data []byte) error {
	var fast bulkResponse
	if (&scanner{b: data}).bulk(&fast) {
		*r = fast
		return nil
	}
	*r = bulkResponse{}
	return json.Unmarshal(data, r)
}

// check says whether a decoded bulk answer is one: it reports on the
// entities sent.
func (r *bulkResponse) check() error {
	if r.Entities == nil && r.Errors == nil {
		return errors.New(`the answer has no "entities" or "errors"`)
	}
	return nil
}

// errUnusual stops the fast path; encoding/json then decodes the answer.
var errUnusual = errors.New("unusual answer")

// scanner reads JSON of a known shape; any surprise sets err.
type scanner struct {
	b   []byte
	i   int
	err error
	// ids collects every identifier of a listing page: their strings
	// share one allocation. bps interns blueprint names.
	ids []byte
	bps []string
}

// end reports whether the whole input was read without surprise.
func (s *scanner) end() bool {
	s.ws()
	return s.err == nil && s.i == len(s.b)
}

// object calls fn with each key of an object; fn must read the value.
func (s *scanner) object(fn func(key []byte)) {
	s.ws()
	s.elements('{', '}', func() {
		key := s.stringBytes()
		s.ws()
		s.expect(':')
		s.ws()
		if s.err == nil {
			fn(key)
		}
	})
}

// array calls fn for each element of an array; fn must read it.
func (s *scanner) array(fn func()) {
	s.elements('[', ']', fn)
}

// elements reads opening, the comma-separated elements read by fn, and
// closing.
func (s *scanner) elements(opening, closing byte, fn func()) {
	s.expect(opening)
	s.ws()
	if s.peek() == closing {
		s.i++
		return
	}
	for s.err == nil {
		fn()
		if s.err != nil {
			return
		}
		s.ws()
		if s.peek() == ',' {
			s.i++
			s.ws()
			continue
		}
		s.expect(closing)
		return
	}
}

// fields tells the keys of one object apart: which of names a key is (-1:
// none). A repeated key, or one naming a field in another case (which
// encoding/json would match), stops the fast path.
type fields struct {
	s     *scanner
	names []string
	seen  uint32
}

func (f *fields) which(key []byte) int {
	for i, n := range f.names {
		if len(key) != len(n) {
			continue
		}
		if string(key) == n {
			if f.seen&(1<<i) != 0 {
				f.s.err = errUnusual
			}
			f.seen |= 1 << i
			return i
		}
		if strings.EqualFold(string(key), n) {
			f.s.err = errUnusual
		}
	}
	return -1
}

// isNull reads a null if one comes.
func (s *scanner) isNull() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return true
	}
	return false
}

func (s *scanner) listing(out *listingPage) bool {
	type span struct{ bp, start, end int }
	var spans []span
	s.ids = make([]byte, 0, len(s.b)/4)
	top := fields{s: s, names: []string{"entities", "next"}}
	s.object(func(key []byte) {
		switch top.which(key) {
		case 0:
			if s.isNull() {
				spans = nil
				return
			}
			spans = make([]span, 0, len(s.b)/64)
			s.array(func() {
				sp := span{bp: -1, start: len(s.ids), end: len(s.ids)}
				f := fields{s: s, names: []string{"identifier", "blueprint"}}
				s.object(func(key []byte) {
					switch f.which(key) {
					case 0:
						sp.start = len(s.ids)
						s.ids = append(s.ids, s.stringBytes()...)
						sp.end = len(s.ids)
					case 1:
						sp.bp = s.blueprint(s.stringBytes())
					default:
						s.skip()
					}
				})
				spans = append(spans, sp)
			})
		case 1:
			if s.isNull() {
				out.Next = nil
				return
			}
			next := string(s.stringBytes())
			out.Next = &next
		default:
			s.skip()
		}
	})
	if !s.end() {
		return false
	}
	if spans != nil {
		ids := string(s.ids)
		out.Entities = make([]EntityRef, len(spans))
		for i, sp := range spans {
			out.Entities[i] = EntityRef{Identifier: ids[sp.start:sp.end]}
			if sp.bp >= 0 {
				out.Entities[i].Blueprint = s.bps[sp.bp]
			}
		}
	}
	return true
}

func (s *scanner) bulk(out *bulkResponse) bool {
	top := fields{s: s, names: []string{"entities", "errors"}}
	s.object(func(key []byte) {
		switch top.which(key) {
		case 0:
			if s.isNull() {
				out.Entities = nil
				return
			}
			out.Entities = make([]bulkEntity, 0, MaxBulkEntities)
			s.array(func() {
				var e bulkEntity
				f := fields{s: s, names: []string{"identifier", "index", "created"}}
				s.object(func(key []byte) {
					switch f.which(key) {
					case 0:
						e.Identifier = string(s.stringBytes())
					case 1:
						e.Index = s.integer()
					case 2:
						e.Created = s.boolean()
					default:
						s.skip()
					}
				})
				out.Entities = append(out.Entities, e)
			})
		case 1:
			if s.isNull() {
				out.Errors = nil
				return
			}
			out.Errors = []bulkError{}
			s.array(func() {
				var e bulkError
				f := fields{s: s, names: []string{"identifier", "index", "statusCode", "error", "message"}}
				s.object(func(key []byte) {
					switch f.which(key) {
					case 0:
						e.Identifier = string(s.stringBytes())
					case 1:
						e.Index = s.integer()
					case 2:
						e.StatusCode = s.integer()
					case 3:
						e.Error = string(s.stringBytes())
					case 4:
						e.Message = string(s.stringBytes())
					default:
						s.skip()
					}
				})
				out.Errors = append(out.Errors, e)
			})
		default:
			s.skip()
		}
	})
	return s.end()
}

// blueprint interns a blueprint name: a page holds few distinct ones.
func (s *scanner) blueprint(b []byte) int {
	for i, bp := range s.bps {
		if bp == string(b) {
			return i
		}
	}
	s.bps = append(s.bps, string(b))
	return len(s.bps) - 1
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.err != nil || s.i >= len(s.b) {
		s.err = errUnusual
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) {
	if s.peek() != c {
		s.err = errUnusual
		return
	}
	s.i++
}

func (s *scanner) literal(lit string) {
	if s.err != nil || len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.err = errUnusual
		return
	}
	s.i += len(lit)
}

// stringBytes reads a string made of printable ASCII without escapes, the
// only kind the fast path takes.
func (s *scanner) stringBytes() []byte {
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

// integer reads a plain integer (digits, an optional minus) that fits in
// 32 bits: indexes and status codes.
func (s *scanner) integer() int {
	neg := false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' && s.i-start < 9 {
		n = 10*n + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		s.err = errUnusual
		return 0
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			s.err = errUnusual // encoding/json refuses these for an int
		}
		if c := s.b[s.i]; c >= '0' && c <= '9' {
			s.err = errUnusual // more digits than the fast path reads
		}
	}
	if neg {
		return -n
	}
	return n
}

func (s *scanner) boolean() bool {
	switch s.peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	default:
		s.err = errUnusual
	}
	return false
}

// skip passes over one value of any type, checking its syntax as
// encoding/json would: what the fast path accepts, encoding/json accepts.
func (s *scanner) skip() { s.value(0) }

// maxDepth bounds the nesting the fast path follows; deeper answers go to
// encoding/json.
const maxDepth = 64

func (s *scanner) value(depth int) {
	if depth > maxDepth {
		s.err = errUnusual
		return
	}
	switch c := s.peek(); {
	case s.err != nil:
	case c == '{':
		s.object(func([]byte) { s.value(depth + 1) })
	case c == '[':
		s.array(func() { s.value(depth + 1) })
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
func (s *scanner) number() {
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

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
