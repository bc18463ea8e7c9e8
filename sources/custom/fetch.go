package custom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
)

// fetcher requests every page of an endpoint.
type fetcher struct {
	s     Settings
	c     doer
	batch int
	// cache is the resync's endpoint cache; nil outside a resync.
	cache *endpointCache
}

// endpoint is one resolved call: no placeholders left.
type endpoint struct {
	req      Request
	dataPath *dataPath
	// template identifies the call as written in the mapping (kind or
	// discovery endpoint, method, query, headers, body, data_path): the
	// cache counts its uses.
	template string
}

// build resolves c's endpoint with values into a request: the endpoint's
// own query string, then query_params, then the pagination parameters;
// customHeaders, then the call's headers.
func (f *fetcher) build(c call, values map[string]string) (endpoint, error) {
	u, err := f.c.Resolve(substitute(c.endpoint, values))
	if err != nil {
		return endpoint{}, fmt.Errorf("endpoint %s: %w", c.endpoint, err)
	}
	q := u.Query()
	for k, vs := range c.query {
		q[k] = append([]string(nil), vs...)
	}
	plain := *u
	plain.RawQuery, plain.ForceQuery = "", false
	h := http.Header{}
	for k, v := range f.s.CustomHeaders {
		h.Set(k, v)
	}
	for k, vs := range c.header {
		h[k] = append([]string(nil), vs...)
	}
	return endpoint{
		req: Request{
			Method:    c.method,
			URL:       plain.String(),
			Query:     q,
			Header:    h,
			Body:      c.body,
			RetryPOST: c.retryPOST,
		},
		dataPath: c.dataPath,
		template: c.key(),
	}, nil
}

// key identifies a call template for the cache's counting.
func (c call) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s\x00", c.method, c.endpoint, c.query.Encode())
	for _, k := range sortedKeys(c.header) {
		fmt.Fprintf(&b, "%s=%s\x00", k, strings.Join(c.header[k], "\x01"))
	}
	fmt.Fprintf(&b, "\x00%s\x00%s", c.body, c.dataPath.expr)
	return b.String()
}

// walk hands the items of every page of ep to onItems (called while the
// page is read, in batches) and then calls afterPage (outside the HTTP
// call: it may make calls of its own). A cacheable endpoint is fetched once
// per resync into a spool file and replayed from it.
func (f *fetcher) walk(ctx context.Context, ep endpoint, onItems func([]map[string]any) error, afterPage func() error) error {
	if e := f.cache.entry(ep); e != nil {
		if err := e.fill(func(sp *spoolWriter) error {
			return f.pages(ctx, ep, nil, nil, sp)
		}); err != nil {
			return err
		}
		return e.replay(ctx, ep, f.batch, onItems, afterPage)
	}
	return f.pages(ctx, ep, onItems, afterPage, nil)
}

// pages requests ep page by page until the paginator's stop rule, an empty
// page, or an error.
func (f *fetcher) pages(ctx context.Context, ep endpoint, onItems func([]map[string]any) error, afterPage func() error, sp *spoolWriter) error {
	pg, err := newPaginator(f.s, f.resolveNext)
	if err != nil {
		return err
	}
	maxPages := f.s.MaxPages
	if maxPages <= 0 {
		maxPages = defaultMaxPages
	}
	req := ep.req
	req.Query = maps.Clone(req.Query)
	if req.Query == nil {
		req.Query = url.Values{}
	}
	pg.first(req.Query)
	var prev *uint64
	for n := 1; ; n++ {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		var info pageInfo
		var header http.Header
		err := f.c.Do(ctx, req, func(resp *Response) error {
			var body io.Reader = resp.Body
			if resp.Status == http.StatusNoContent {
				// 204 is the API saying there is nothing: the empty
				// collection {} (Ocean failed to decode it and logged).
				body = strings.NewReader("{}")
			}
			if sp != nil {
				if err := sp.rewind(); err != nil {
					return err
				}
				body = io.TeeReader(body, sp)
			}
			in, b, err := ep.dataPath.read(ctx, body, f.batch, onItems)
			if err != nil {
				return pageError(req, b, err)
			}
			info, header = in, resp.Header
			return nil
		})
		if err != nil {
			return err
		}
		if sp != nil {
			sp.endPage(displayURL(requestURL(req)))
		}
		if prev != nil && *prev == info.hash {
			return fmt.Errorf("%s %s: page %d is identical to page %d: the API ignores the pagination parameters, or pagination would loop", req.Method, displayURL(requestURL(req)), n, n-1)
		}
		prev = &info.hash
		// APIs that omit empty arrays (protobuf JSON, Google's) answer {}
		// for an empty collection, Go backends {"items": null}: no items,
		// not a wrong data_path (whose key would be absent).
		// A null key with a page saying more follow is still an error.
		emptyObject := info.null && isEmptyObject(info.doc)
		if info.null && n == 1 && !emptyObject && !info.nullKey {
			return fmt.Errorf("%s %s: %s gave null: no items where items were expected (check data_path)", req.Method, displayURL(requestURL(req)), ep.dataPath.where())
		}
		next, more, err := pg.next(req, info, header)
		if err != nil {
			return fmt.Errorf("%s %s: %w", req.Method, displayURL(requestURL(req)), err)
		}
		if info.null && more && !emptyObject {
			return fmt.Errorf("%s %s: %s gave null on page %d, yet the API says more pages follow", req.Method, displayURL(requestURL(req)), ep.dataPath.where(), n)
		}
		if afterPage != nil {
			if err := afterPage(); err != nil {
				return err
			}
		}
		if info.items == 0 || !more {
			return nil
		}
		if n >= maxPages {
			return fmt.Errorf("stopped after maxPages=%d pages at URL %s; raise maxPages if the API is that large", maxPages, displayURL(requestURL(req)))
		}
		req = next
	}
}

// isEmptyObject reports the answer {}.
func isEmptyObject(doc any) bool {
	m, ok := doc.(map[string]any)
	return ok && len(m) == 0
}

// pageError names the request in a page's decode or data_path error. A
// read error is returned as it is, so the client retries it, unless items
// of the page were already handed on: a retry would hand them on twice.
func pageError(req Request, b *batcher, err error) error {
	var emitErr *emitError
	switch {
	case errors.As(err, &emitErr):
		return emitErr.err
	case errors.Is(err, errNotJSON):
		return fmt.Errorf("%s %s: %w", req.Method, displayURL(requestURL(req)), err)
	case b != nil && b.handedOn > 0 && isReadError(err):
		return fmt.Errorf("%s %s: reading the answer failed after %d items were handed on: %v", req.Method, displayURL(requestURL(req)), b.handedOn, err)
	case isReadError(err):
		return err
	}
	return fmt.Errorf("%s %s: %w", req.Method, displayURL(requestURL(req)), err)
}

// isReadError says err came from reading the body, not from a check of
// ours, the consumer or the decoder.
func isReadError(err error) bool {
	var ours *checkError
	var emitErr *emitError
	return !errors.As(err, &ours) && !errors.As(err, &emitErr) && !errors.Is(err, errNotJSON)
}

// checkError marks the fetch half's own findings about a page.
type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

// emitError carries an error of the consumer (emit), never retried.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// resolveNext makes a next link absolute: an absolute URL as it is; an
// absolute path against baseUrl (Client.Resolve), unless it already starts
// with baseUrl's path, then against baseUrl's origin; any other relative
// reference ("?page=2") against the URL just requested (RFC 3986).
func (f *fetcher) resolveNext(cur, link string) (*url.URL, error) {
	ref, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if ref.IsAbs() {
		return ref, nil
	}
	if strings.HasPrefix(ref.Path, "/") && ref.Host == "" {
		if b := f.s.BaseURL; b != nil {
			p := strings.TrimSuffix(b.Path, "/")
			if p != "" && (ref.Path == p || strings.HasPrefix(ref.Path, p+"/")) {
				return b.ResolveReference(ref), nil
			}
		}
		return f.c.Resolve(link)
	}
	base, err := url.Parse(cur)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}
