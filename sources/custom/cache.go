package custom

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// cacheDirName is the cache's directory under stateDir.
const cacheDirName = "custom-cache"

// endpointCache holds, for one resync, the pages of the endpoints the
// mapping uses two or more times (as a kind or a discovery endpoint), so
// each is requested once. Pages are spooled to files under
// stateDir/custom-cache: written through on the first use, read back from
// disk on later ones, one page at a time; only their offsets are kept in
// memory.
type endpointCache struct {
	dir       string
	cacheable map[string]bool // call templates used twice or more

	mu      sync.Mutex
	entries map[string]*cacheEntry // by resolved request
}

// newEndpointCache removes what a crashed run left in dir and counts the
// uses of each call template of the mapping.
func newEndpointCache(dir string, resources []*resource) (*endpointCache, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("endpoint cache: remove stale files: %w", err)
	}
	uses := map[string]int{}
	for _, r := range resources {
		uses[r.call.key()]++
		for _, p := range r.params {
			uses[p.call.key()]++
		}
	}
	c := &endpointCache{dir: dir, cacheable: map[string]bool{}, entries: map[string]*cacheEntry{}}
	for k, n := range uses {
		if n >= 2 {
			c.cacheable[k] = true
		}
	}
	if len(c.cacheable) == 0 {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("endpoint cache: %w", err)
	}
	return c, nil
}

// close removes the spool files.
func (c *endpointCache) close() error {
	if c == nil {
		return nil
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("endpoint cache: %w", err)
	}
	return nil
}

// entry returns ep's cache entry, or nil when ep is not cacheable.
func (c *endpointCache) entry(ep endpoint) *cacheEntry {
	if c == nil || !c.cacheable[ep.template] {
		return nil
	}
	key := requestKey(ep)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{path: filepath.Join(c.dir, key+".pages")}
		c.entries[key] = e
	}
	return e
}

// requestKey names a resolved request without putting any of it (headers
// may hold secrets) in the file name.
func requestKey(ep endpoint) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", ep.req.Method, ep.req.URL, ep.req.Query.Encode())
	for _, k := range sortedKeys(ep.req.Header) {
		fmt.Fprintf(h, "%s=%s\x00", k, strings.Join(ep.req.Header[k], "\x01"))
	}
	fmt.Fprintf(h, "\x00%s\x00%s", ep.req.Body, ep.dataPath.expr)
	return hex.EncodeToString(h.Sum(nil))
}

// cacheEntry is one spooled endpoint: the raw bodies of its pages, one
// after the other, and where each starts.
type cacheEntry struct {
	path string

	mu       sync.Mutex
	complete bool
	pages    []spooledPage
}

type spooledPage struct {
	off, n int64
	url    string
}

// fill fetches the endpoint into the spool file unless an earlier use did.
// A failed fetch leaves the entry empty: the next use fetches again.
func (e *cacheEntry) fill(fetch func(*spoolWriter) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.complete {
		return nil
	}
	f, err := os.OpenFile(e.path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("endpoint cache: %w", err)
	}
	sp := &spoolWriter{f: f}
	err = fetch(sp)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("endpoint cache: %w", cerr)
	}
	if err != nil {
		if rerr := os.Remove(e.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return errors.Join(err, fmt.Errorf("endpoint cache: %w", rerr))
		}
		return err
	}
	e.pages, e.complete = sp.pages, true
	return nil
}

// replay reads the spooled pages back through ep's data_path.
func (e *cacheEntry) replay(ctx context.Context, ep endpoint, batch int, onItems func([]map[string]any) error, afterPage func() error) error {
	e.mu.Lock()
	pages := e.pages
	e.mu.Unlock()
	f, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("endpoint cache: %w", err)
	}
	defer f.Close()
	for _, p := range pages {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if _, _, err := ep.dataPath.read(ctx, io.NewSectionReader(f, p.off, p.n), batch, onItems); err != nil {
			var emitErr *emitError
			if errors.As(err, &emitErr) {
				return emitErr.err
			}
			return fmt.Errorf("%s %s (from the endpoint cache): %w", ep.req.Method, p.url, err)
		}
		if afterPage != nil {
			if err := afterPage(); err != nil {
				return err
			}
		}
	}
	return nil
}

// spoolWriter appends page bodies to a spool file. A page whose request is
// retried is rewound to its start.
type spoolWriter struct {
	f          *os.File
	start, pos int64
	pages      []spooledPage
}

func (s *spoolWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.pos += int64(n)
	return n, err
}

// rewind drops what an earlier attempt at the current page wrote.
func (s *spoolWriter) rewind() error {
	if s.pos == s.start {
		return nil
	}
	if err := s.f.Truncate(s.start); err != nil {
		return fmt.Errorf("endpoint cache: %w", err)
	}
	if _, err := s.f.Seek(s.start, io.SeekStart); err != nil {
		return fmt.Errorf("endpoint cache: %w", err)
	}
	s.pos = s.start
	return nil
}

// endPage records the current page.
func (s *spoolWriter) endPage(url string) {
	s.pages = append(s.pages, spooledPage{off: s.start, n: s.pos - s.start, url: url})
	s.start = s.pos
}
