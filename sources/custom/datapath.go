package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// dataPath is a selector's data_path: where the items are in a page. A
// plain path (".", ".a.b", `.["@x"]`) is applied while the page is decoded
// as a stream, so a large page is never held twice; any other jq program
// runs on the decoded page.
type dataPath struct {
	expr string
	// keys is the plain path from the top; plain says expr is one.
	keys  []string
	plain bool
	code  *gojq.Code
	// records says any JSON value is a record, carried as
	// {plainRecordKey: value} when it is not an object: a discovery
	// endpoint may list plain values (["app", "lib"]); items of a kind
	// must be objects.
	records bool
}

// plainRecordKey holds a discovery record that is not an object.
const plainRecordKey = "\x00record"

func compileDataPath(expr string) (*dataPath, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		expr = "."
	}
	if keys, ok := plainPath(expr); ok {
		return &dataPath{expr: expr, keys: keys, plain: true}, nil
	}
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("data_path %q: %w", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("data_path %q: %w", expr, err)
	}
	return &dataPath{expr: expr, code: code}, nil
}

// plainPath parses ".", ".a.b", `.a["@x"]`, `."x y"` into object keys.
func plainPath(expr string) ([]string, bool) {
	if expr == "." {
		return nil, true
	}
	var keys []string
	rest := expr
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `.["`) || strings.HasPrefix(rest, `["`):
			i := strings.Index(rest, `[`)
			key, n, ok := quoted(rest[i+1:])
			if !ok || !strings.HasPrefix(rest[i+1+n:], "]") {
				return nil, false
			}
			keys = append(keys, key)
			rest = rest[i+1+n+1:]
		case strings.HasPrefix(rest, `."`):
			key, n, ok := quoted(rest[1:])
			if !ok {
				return nil, false
			}
			keys = append(keys, key)
			rest = rest[1+n:]
		case strings.HasPrefix(rest, "."):
			n := 1
			for n < len(rest) && isIdent(rest[n], n == 1) {
				n++
			}
			if n == 1 {
				return nil, false
			}
			keys = append(keys, rest[1:n])
			rest = rest[n:]
		default:
			return nil, false
		}
		if len(keys) == 0 {
			return nil, false
		}
	}
	return keys, len(keys) > 0
}

func isIdent(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// quoted reads a JSON string literal at the start of s (no escapes other
// than JSON's) and returns it with its length in s.
func quoted(s string) (string, int, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", 0, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil || strings.ContainsAny(v, `\(`) {
				return "", 0, false
			}
			return v, i + 1, true
		}
	}
	return "", 0, false
}

// pageInfo is what one answer tells the paginator.
type pageInfo struct {
	// doc is the decoded page without the items' array (the fields a
	// paginator may read: has-more, cursor, next link).
	doc any
	// list says the page is a bare JSON array of topLen elements.
	list   bool
	topLen int
	// items counts the items data_path gave; null says it gave null
	// (or the path is absent).
	items int
	null  bool
	// nullKey says a key of a plain data_path is in the page with the
	// value null ({"items": null}: a Go backend's empty slice), as
	// opposed to absent.
	nullKey bool
	// hash is the raw body's hash: a page identical to the previous one
	// means the API ignores the pagination parameters.
	hash uint64
}

// pageSeed seeds the page hashes of this process.
var pageSeed = maphash.MakeSeed()

// batcher hands items to emit in batches of at most size.
type batcher struct {
	size int
	buf  []map[string]any
	emit func([]map[string]any) error
	// emitted counts the page's items; handedOn those given to emit.
	emitted, handedOn int
	records           bool // see dataPath.records
}

func (b *batcher) add(v any, where func() string) error {
	m, ok := v.(map[string]any)
	if !ok && b.records {
		m, ok = map[string]any{plainRecordKey: v}, true
	}
	if !ok {
		return checkf("%s: item %d is %s, not an object", where(), b.emitted+len(b.buf), describe(v))
	}
	b.buf = append(b.buf, m)
	if len(b.buf) >= b.size {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	out := b.buf
	b.buf = make([]map[string]any, 0, b.size)
	b.emitted += len(out)
	if b.emit == nil {
		return nil
	}
	b.handedOn += len(out)
	if err := b.emit(out); err != nil {
		return &emitError{err}
	}
	return nil
}

// errNotJSON marks an undecodable page (as opposed to a read error).
var errNotJSON = errors.New("the answer is not valid JSON")

// read decodes one page from body, handing its items to emit in batches
// of at most batch. A read error on body is returned as it is (the client
// may retry it); a decode error wraps errNotJSON.
func (dp *dataPath) read(ctx context.Context, body io.Reader, batch int, emit func([]map[string]any) error) (pageInfo, *batcher, error) {
	var h maphash.Hash
	h.SetSeed(pageSeed)
	cr := &countingReader{r: io.TeeReader(body, &h)}
	dec := newJSONStream(cr)
	b := &batcher{size: max(batch, 1), emit: emit}
	var info pageInfo
	var err error
	b.records = dp.records
	if dp.plain {
		err = dp.stream(dec, b, &info)
	} else {
		err = dp.whole(ctx, dec, b, &info)
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("%w: data after the JSON value", errNotJSON)
			if terr != nil && cr.err != nil {
				err = cr.err
			}
		}
	}
	if err != nil {
		if cr.err != nil && !errors.Is(err, cr.err) {
			err = cr.err // the decoder saw a truncated body: report the read error
		}
		return info, b, err
	}
	if err := b.flush(); err != nil {
		return info, b, err
	}
	info.items = b.emitted
	info.hash = h.Sum64()
	return info, b, nil
}

type countingReader struct {
	r   io.Reader
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

func checkf(format string, args ...any) error {
	return &checkError{msg: fmt.Sprintf(format, args...)}
}

func (dp *dataPath) where() string { return "data_path " + dp.expr }

func syntaxErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errNotJSON) {
		return err
	}
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return err
}

// stream applies a plain path while decoding.
func (dp *dataPath) stream(dec *jsonStream, b *batcher, info *pageInfo) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	if len(dp.keys) == 0 {
		switch tok {
		case json.Delim('['):
			info.list = true
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					return syntaxErr(err)
				}
				info.topLen++
				if err := b.add(v, dp.where); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return syntaxErr(err)
		case json.Delim('{'):
			m, err := objectRest(dec)
			if err != nil {
				return err
			}
			info.doc = m
			if len(m) == 0 {
				info.null = true // {} is an empty collection (see fetcher.pages)
				return nil
			}
			item := make(map[string]any, len(m))
			for k, v := range m {
				item[k] = v
			}
			return b.add(item, dp.where)
		case nil:
			info.null = true
			return nil
		}
		return checkf("%s gave %s, not a list or an object", dp.where(), describe(tok))
	}
	switch tok {
	case json.Delim('{'):
		doc, err := dp.object(dec, dp.keys, b, info)
		info.doc = doc
		return err
	case json.Delim('['):
		info.list = true
		return checkf("%s: the page is an array, which has no key %q", dp.where(), dp.keys[0])
	case nil:
		info.null = true
		return nil
	}
	return checkf("%s: the page is %s, which has no key %q", dp.where(), describe(tok), dp.keys[0])
}

// object reads the rest of an object (its '{' consumed) and streams the
// value at keys; the result holds every other member.
func (dp *dataPath) object(dec *jsonStream, keys []string, b *batcher, info *pageInfo) (map[string]any, error) {
	m := map[string]any{}
	found := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return m, syntaxErr(err)
		}
		key, _ := kt.(string)
		if key != keys[0] {
			var v any
			if err := dec.Decode(&v); err != nil {
				return m, syntaxErr(err)
			}
			m[key] = v
			continue
		}
		found = true
		tok, err := dec.Token()
		if err != nil {
			return m, syntaxErr(err)
		}
		if len(keys) > 1 {
			switch tok {
			case json.Delim('{'):
				sub, err := dp.object(dec, keys[1:], b, info)
				m[key] = sub
				if err != nil {
					return m, err
				}
			case nil:
				info.null, info.nullKey = true, true
			default:
				return m, checkf("%s: %q is %s, which has no key %q", dp.where(), key, tokenKind(tok), keys[1])
			}
			continue
		}
		switch tok {
		case json.Delim('['):
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					return m, syntaxErr(err)
				}
				if err := b.add(v, dp.where); err != nil {
					return m, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return m, syntaxErr(err)
			}
		case json.Delim('{'):
			item, err := objectRest(dec)
			if err != nil {
				return m, err
			}
			if err := b.add(item, dp.where); err != nil {
				return m, err
			}
		case nil:
			info.null, info.nullKey = true, true
		default:
			return m, checkf("%s gave %s, not a list or an object", dp.where(), describe(tok))
		}
	}
	if _, err := dec.Token(); err != nil {
		return m, syntaxErr(err)
	}
	if !found {
		info.null = true
	}
	return m, nil
}

func tokenKind(tok json.Token) string {
	switch tok {
	case json.Delim('['):
		return "an array"
	case json.Delim('{'):
		return "an object"
	}
	return describe(tok)
}

// objectRest decodes the rest of an object whose '{' was consumed.
func objectRest(dec *jsonStream) (map[string]any, error) {
	m := map[string]any{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		key, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, syntaxErr(err)
		}
		m[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxErr(err)
	}
	return m, nil
}

// whole decodes the page, then runs the jq program: each output that is a
// list gives its elements, an object is one item, null is noted.
func (dp *dataPath) whole(ctx context.Context, dec *jsonStream, b *batcher, info *pageInfo) error {
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return syntaxErr(err)
	}
	info.doc = doc
	if l, ok := doc.([]any); ok {
		info.list, info.topLen = true, len(l)
	}
	if isEmptyObject(doc) {
		// {} is an empty collection (see fetcher.pages): a program
		// such as .items | map(...) would fail on its missing key.
		info.null = true
		return nil
	}
	iter := dp.code.RunWithContext(ctx, doc)
	outputs := 0
	nulls := 0
	for {
		v, ok := iter.Next()
		if !ok {
			break
		}
		outputs++
		switch t := v.(type) {
		case error:
			var halt *gojq.HaltError
			if errors.As(t, &halt) && halt.Value() == nil {
				return nil
			}
			return checkf("%s: %v", dp.where(), t)
		case nil:
			nulls++
		case []any:
			for _, e := range t {
				if err := b.add(e, dp.where); err != nil {
					return err
				}
			}
		case map[string]any:
			// Outputs may share memory with the program: copy before use.
			item := make(map[string]any, len(t))
			for k, e := range t {
				item[k] = e
			}
			if err := b.add(item, dp.where); err != nil {
				return err
			}
		default:
			return checkf("%s gave %s, not a list or an object", dp.where(), describe(v))
		}
	}
	// No output (.items[] on []) is no items; only null outputs are null.
	if outputs > 0 && nulls == outputs {
		info.null = true
	}
	return nil
}
