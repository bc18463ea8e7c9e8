package custom

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Pagination types (paginationType).
const (
	PaginationNone       = "none"
	PaginationOffset     = "offset"
	PaginationPage       = "page"
	PaginationCursor     = "cursor"
	PaginationNextLink   = "next_link"
	PaginationHeaderLink = "header_link"
)

// defaultPageSize is used when pageSize is not positive.
const defaultPageSize = 100

// defaultMaxPages bounds an endpoint's pages when maxPages is not positive.
const defaultMaxPages = 10000

// Ocean's default field names when hasMorePath / cursorPath are unset.
var (
	defaultHasMorePaths = []string{"has_more", "hasMore", "meta.has_more"}
	defaultCursorPaths  = []string{"next_cursor", "cursor", "meta.after_cursor", "links.next"}
	defaultNextPagePath = []string{"next_page", "next"}
)

// paginator walks the pages of one endpoint. A new one is made per
// endpoint: it keeps the state of that walk (offset, page, cursors seen).
type paginator interface {
	// first adds the first page's parameters to q.
	first(q url.Values)
	// next decides, from the page just read (cur, p, header), whether
	// another page follows and returns its request. The empty-page rule
	// and the page bounds are the caller's.
	next(cur Request, p pageInfo, header http.Header) (Request, bool, error)
}

// nextResolver makes an absolute URL of a next link found in the page
// answered to cur.
type nextResolver func(cur string, link string) (*url.URL, error)

func newPaginator(s Settings, resolve nextResolver) (paginator, error) {
	size := s.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	b := base{s: s, size: size}
	switch s.PaginationType {
	case "", PaginationNone:
		return none{}, nil
	case PaginationOffset:
		return &offsetPaginator{base: b, param: or(s.PaginationParam, "offset"), sizeParam: or(s.SizeParam, "limit")}, nil
	case PaginationPage:
		return &pagePaginator{base: b, param: or(s.PaginationParam, "page"), sizeParam: or(s.SizeParam, "size"), page: s.StartPage}, nil
	case PaginationCursor:
		return &cursorPaginator{base: b, param: or(s.PaginationParam, "cursor"), sizeParam: or(s.SizeParam, "limit"), seen: map[string]bool{}}, nil
	case PaginationNextLink:
		return &linkPaginator{base: b, resolve: resolve, seen: map[string]bool{}, find: func(p pageInfo, _ http.Header) (any, bool) {
			path := or(s.NextLinkPath, "@odata.nextLink")
			return lookup(p.doc, path)
		}, what: "next link " + or(s.NextLinkPath, "@odata.nextLink"), setting: "nextLinkPath"}, nil
	case PaginationHeaderLink:
		rel := or(s.HeaderLinkRel, "next")
		return &linkPaginator{base: b, resolve: resolve, seen: map[string]bool{}, find: func(_ pageInfo, h http.Header) (any, bool) {
			t, ok := linkTarget(h.Values("Link"), rel)
			return t, ok
		}, what: fmt.Sprintf("Link header rel=%q", rel), setting: "headerLinkRel"}, nil
	}
	return nil, fmt.Errorf("paginationType %q: unknown (known: none, offset, page, cursor, next_link, header_link)", s.PaginationType)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type none struct{}

func (none) first(url.Values) {}
func (none) next(Request, pageInfo, http.Header) (Request, bool, error) {
	return Request{}, false, nil
}

type base struct {
	s    Settings
	size int
}

// hasMore reads the has-more field: hasMorePath when set, else Ocean's
// defaults. present is false when no such field is in the page (or it is
// null): the caller then decides by other means.
func (b base) hasMore(p pageInfo) (more, present bool) {
	paths := defaultHasMorePaths
	if b.s.HasMorePath != "" {
		paths = []string{b.s.HasMorePath}
	}
	for _, path := range paths {
		if v, ok := lookup(p.doc, path); ok && v != nil {
			return truthy(v), true
		}
	}
	return false, false
}

func withParam(cur Request, key, value string) Request {
	next := cur
	next.Query = maps.Clone(cur.Query)
	if next.Query == nil {
		next.Query = url.Values{}
	}
	next.Query.Set(key, value)
	return next
}

// offsetPaginator sends offset=0,pageSize,2·pageSize… (Ocean adds
// pageSize, not the number of items returned).
type offsetPaginator struct {
	base
	param, sizeParam string
	offset           int
}

func (o *offsetPaginator) first(q url.Values) {
	q.Set(o.param, "0")
	q.Set(o.sizeParam, strconv.Itoa(o.size))
}

func (o *offsetPaginator) next(cur Request, p pageInfo, _ http.Header) (Request, bool, error) {
	if p.list {
		if p.topLen < o.size {
			return Request{}, false, nil
		}
	} else if more, ok := o.hasMore(p); ok && !more {
		return Request{}, false, nil
	}
	o.offset += o.size
	return withParam(cur, o.param, strconv.Itoa(o.offset)), true, nil
}

// pagePaginator sends page=startPage,startPage+1…
type pagePaginator struct {
	base
	param, sizeParam string
	page             int
}

func (g *pagePaginator) first(q url.Values) {
	q.Set(g.param, strconv.Itoa(g.page))
	q.Set(g.sizeParam, strconv.Itoa(g.size))
}

func (g *pagePaginator) next(cur Request, p pageInfo, _ http.Header) (Request, bool, error) {
	if !g.more(p) {
		return Request{}, false, nil
	}
	g.page++
	return withParam(cur, g.param, strconv.Itoa(g.page)), true, nil
}

func (g *pagePaginator) more(p pageInfo) bool {
	if p.list {
		return p.topLen >= g.size
	}
	if g.s.HasMorePath != "" {
		if more, ok := g.hasMore(p); ok {
			return more
		}
	}
	if g.s.LastPagePath != "" {
		if v, ok := lookup(p.doc, g.s.LastPagePath); ok && v != nil {
			return !truthy(v)
		}
	}
	if g.s.HasMorePath == "" {
		if more, ok := g.hasMore(p); ok {
			return more
		}
	}
	for _, path := range defaultNextPagePath {
		if v, ok := lookup(p.doc, path); ok {
			return v != nil && v != ""
		}
	}
	return true // undecided: the empty page or maxPages ends it
}

// cursorPaginator sends the cursor of the previous page.
type cursorPaginator struct {
	base
	param, sizeParam string
	seen             map[string]bool
}

func (c *cursorPaginator) first(q url.Values) {
	q.Set(c.sizeParam, strconv.Itoa(c.size))
}

func (c *cursorPaginator) next(cur Request, p pageInfo, _ http.Header) (Request, bool, error) {
	if p.list {
		return Request{}, false, nil
	}
	more, saysMore := c.hasMore(p)
	if saysMore && !more {
		return Request{}, false, nil
	}
	paths := defaultCursorPaths
	if c.s.CursorPath != "" {
		paths = []string{c.s.CursorPath}
	}
	var cursor string
	for _, path := range paths {
		v, ok := lookup(p.doc, path)
		if !ok || v == nil {
			continue
		}
		s, _, err := stringify(v)
		if err != nil {
			return Request{}, false, fmt.Errorf("cursor %s: %w", path, err)
		}
		if s != "" {
			cursor = s
			break
		}
	}
	if cursor == "" && saysMore {
		// Stopping here would make a typo in cursorPath (or an API
		// whose cursor is elsewhere) a silently partial kind.
		return Request{}, false, fmt.Errorf("the page says more pages follow, but has no cursor at %s: check cursorPath", strings.Join(paths, ", "))
	}
	if cursor == "" {
		return Request{}, false, nil
	}
	if c.seen[cursor] {
		return Request{}, false, fmt.Errorf("the API returned a cursor it already returned: pagination would loop")
	}
	c.seen[cursor] = true
	return withParam(cur, c.param, cursor), true, nil
}

// linkPaginator follows a next URL (from the body or the Link header),
// requested as it is: its query string is kept and the selector's
// query_params are not added again (Ocean #3009).
type linkPaginator struct {
	base
	resolve nextResolver
	find    func(pageInfo, http.Header) (any, bool)
	what    string
	setting string // the setting that says where the link is
	seen    map[string]bool
}

func (l *linkPaginator) first(url.Values) {}

func (l *linkPaginator) next(cur Request, p pageInfo, h http.Header) (Request, bool, error) {
	if len(l.seen) == 0 {
		l.seen[requestURL(cur)] = true
	}
	v, ok := l.find(p, h)
	if !ok || v == nil || v == "" {
		if more, present := l.hasMore(p); present && more {
			// A wrong nextLinkPath would otherwise end the kind
			// after page 1 as if complete.
			return Request{}, false, fmt.Errorf("the page says more pages follow, but has no %s: check %s", l.what, l.setting)
		}
		return Request{}, false, nil
	}
	link, isString := v.(string)
	if !isString {
		return Request{}, false, fmt.Errorf("%s is %s, not a URL", l.what, describe(v))
	}
	u, err := l.resolve(requestURL(cur), link)
	if err != nil {
		return Request{}, false, fmt.Errorf("%s: %w", l.what, err)
	}
	next := cur
	next.URL, next.Query = u.String(), nil
	if l.seen[next.URL] {
		return Request{}, false, fmt.Errorf("the API returned a next URL already requested (%s): pagination would loop", displayURL(next.URL))
	}
	l.seen[next.URL] = true
	return next, true, nil
}

// requestURL is the URL a request asks for: its URL with Query added.
func requestURL(r Request) string {
	if len(r.Query) == 0 {
		return r.URL
	}
	sep := "?"
	if strings.Contains(r.URL, "?") {
		sep = "&"
	}
	return r.URL + sep + r.Query.Encode()
}

// lookup reads a field of a page: the literal key first (nextLinkPath
// "@odata.nextLink" has a dot), then the dotted path; a numeric segment
// indexes an array. A leading "." or "$." (jq or JSONPath habit, since
// data_path is jq) is dropped.
func lookup(doc any, path string) (any, bool) {
	if m, ok := doc.(map[string]any); ok {
		if v, ok := m[path]; ok {
			return v, true
		}
	}
	if p, ok := strings.CutPrefix(strings.TrimPrefix(path, "$"), "."); ok && p != "" {
		path = p
	}
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// truthy is Python's truthiness, except that the strings "false" and "0"
// are false too.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != "" && !strings.EqualFold(t, "false") && t != "0"
	case json.Number:
		f, err := t.Float64()
		return err != nil || f != 0
	case float64:
		return t != 0
	case int:
		return t != 0
	case *big.Int:
		return t.Sign() != 0
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}
