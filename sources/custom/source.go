package custom

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"

	"oceand/sources"
)

// Type is the integration type of the custom source.
const Type = "custom"

//go:embed resources/blueprints.json
var blueprintsJSON []byte

//go:embed resources/port-app-config.yml
var portAppConfigYAML []byte

// Definition registers the custom source.
func Definition() sources.Definition {
	return sources.Definition{
		Type: Type,
		Defaults: sources.Defaults{
			Blueprints:    blueprintsJSON,
			PortAppConfig: portAppConfigYAML,
			Spec:          SpecYAML,
		},
		New: func(config map[string]any, env sources.Env) (sources.Source, error) {
			s, err := ParseSettings(config)
			if err != nil {
				return nil, err
			}
			return New(s, env)
		},
	}
}

// Source fetches the resources of one REST API.
type Source struct {
	f        fetcher
	logger   *slog.Logger
	cacheDir string
	// workers bounds the resolved endpoints of one kind fetched at once.
	workers int
	// memoLimit bounds the values kept per static discovery endpoint.
	memoLimit int

	mu sync.Mutex
}

var (
	_ sources.Source       = (*Source)(nil)
	_ sources.ResyncScoped = (*Source)(nil)
)

// New builds the source and its HTTP client.
func New(s Settings, env sources.Env) (*Source, error) {
	c, err := NewClient(s, env)
	if err != nil {
		return nil, err
	}
	return newSource(s, c, env), nil
}

func newSource(s Settings, c doer, env sources.Env) *Source {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	batch := s.PageSize
	if batch <= 0 {
		batch = defaultPageSize
	}
	workers := s.MaxConcurrentRequests
	if workers <= 0 {
		workers = 10
	}
	src := &Source{f: fetcher{s: s, c: c, batch: batch}, logger: logger, workers: workers, memoLimit: 100_000}
	if env.StateDir != "" {
		src.cacheDir = filepath.Join(env.StateDir, cacheDirName)
	}
	return src
}

// BeginResync implements sources.ResyncScoped: it finds the endpoints the
// mapping uses more than once, to fetch each once this resync. A resource
// whose selector is invalid is left out here; its Fetch reports why.
func (src *Source) BeginResync(ctx context.Context, resources []sources.Resource) error {
	if src.cacheDir == "" {
		return nil
	}
	var parsed []*resource
	for _, r := range resources {
		p, err := parseResource(r.Kind, r.Selector)
		if err != nil {
			continue
		}
		parsed = append(parsed, p)
	}
	c, err := newEndpointCache(src.cacheDir, parsed)
	if err != nil {
		return err
	}
	src.mu.Lock()
	old := src.f.cache
	src.f.cache = c
	src.mu.Unlock()
	return old.close()
}

// EndResync implements sources.ResyncScoped: it deletes the spool files.
func (src *Source) EndResync() error {
	src.mu.Lock()
	c := src.f.cache
	src.f.cache = nil
	src.mu.Unlock()
	return c.close()
}

// Fetch implements sources.Source. The kind's resolved endpoints are
// fetched up to maxConcurrentRequests at a time; emit is called from one
// goroutine at a time. Any error fails the kind.
func (src *Source) Fetch(ctx context.Context, r sources.Resource, emit func(items []map[string]any) error) error {
	res, err := parseResource(r.Kind, r.Selector)
	if err != nil {
		return fmt.Errorf("kind %s: %w", r.Kind, err)
	}
	src.mu.Lock()
	f := src.f
	src.mu.Unlock()
	k := &kindFetch{f: &f, res: res, memo: map[string][]string{}, memoLimit: src.memoLimit}
	if err := k.run(ctx, src.workers, emit); err != nil {
		return fmt.Errorf("kind %s: %w", r.Kind, err)
	}
	return nil
}

// kindFetch is one Fetch: it resolves the kind's placeholders and fetches
// every resolved endpoint.
type kindFetch struct {
	f   *fetcher
	res *resource

	// memo holds the values of discovery endpoints without placeholders,
	// so a Cartesian product does not request them once per outer value.
	memoMu    sync.Mutex
	memo      map[string][]string
	memoLimit int

	emitMu sync.Mutex
}

func (k *kindFetch) run(parent context.Context, workers int, emit func([]map[string]any) error) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		cancel(err)
	}
	sem := make(chan struct{}, max(workers, 1))
	expandErr := k.expand(ctx, k.res.kind, map[string]string{}, func(values map[string]string) error {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := k.fetchEndpoint(ctx, values, emit); err != nil {
				fail(err)
			}
		})
		return nil
	})
	wg.Wait()
	switch {
	case parent.Err() != nil:
		return context.Cause(parent) // superseded or stopping: say so, not what it broke
	case firstErr != nil:
		return firstErr
	case expandErr != nil:
		return expandErr
	}
	return nil
}

// fetchEndpoint fetches one resolved endpoint of the kind; each item gets
// __<param> for every placeholder value used.
func (k *kindFetch) fetchEndpoint(ctx context.Context, values map[string]string, emit func([]map[string]any) error) error {
	ep, err := k.f.build(k.res.call, values)
	if err != nil {
		return err
	}
	return k.f.walk(ctx, ep, func(items []map[string]any) error {
		if len(values) > 0 {
			for i, it := range items {
				out := make(map[string]any, len(it)+len(values))
				maps.Copy(out, it)
				for name, v := range values {
					out["__"+name] = v
				}
				items[i] = out
			}
		}
		k.emitMu.Lock()
		defer k.emitMu.Unlock()
		if err := context.Cause(ctx); err != nil {
			return err
		}
		return emit(items)
	}, nil)
}

// expand calls yield for every combination of values of tmpl's
// placeholders (a Cartesian product), with bound's values kept. A
// placeholder's discovery endpoint may have placeholders of its own: they
// are bound first, and the same value is used wherever the name appears.
func (k *kindFetch) expand(ctx context.Context, tmpl string, bound map[string]string, yield func(map[string]string) error) error {
	for _, name := range placeholders(tmpl) {
		if _, ok := bound[name]; ok {
			continue
		}
		p := k.res.params[name] // present: parseResource checked
		return k.expand(ctx, p.call.endpoint, bound, func(b map[string]string) error {
			return k.discover(ctx, p, b, func(value string) error {
				next := maps.Clone(b)
				next[name] = value
				return k.expand(ctx, tmpl, next, yield)
			})
		})
	}
	return yield(bound)
}

// discover calls each with every value of p found at its endpoint
// (resolved with bound), page by page.
func (k *kindFetch) discover(ctx context.Context, p *pathParam, bound map[string]string, each func(string) error) error {
	static := len(placeholders(p.call.endpoint)) == 0
	if static {
		k.memoMu.Lock()
		vals, ok := k.memo[p.name]
		k.memoMu.Unlock()
		if ok {
			for _, v := range vals {
				if err := each(v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ep, err := k.f.build(p.call, bound)
	if err != nil {
		return err
	}
	var page, all []string
	keep := static
	err = k.f.walk(ctx, ep, func(items []map[string]any) error {
		for _, it := range items {
			v, ok, err := p.value(ctx, it)
			if err != nil {
				return &checkError{msg: fmt.Sprintf("discovery of {%s} at %s %s: %v", p.name, ep.req.Method, displayURL(requestURL(ep.req)), err)}
			}
			if ok {
				page = append(page, v)
			}
		}
		return nil
	}, func() error {
		vals := page
		page = nil
		if keep {
			all = append(all, vals...)
			if len(all) > k.memoLimit {
				keep, all = false, nil
			}
		}
		for _, v := range vals {
			if err := each(v); err != nil {
				return &passThrough{err}
			}
		}
		return nil
	})
	if err != nil {
		var pt *passThrough
		if errors.As(err, &pt) {
			return pt.err // not this discovery's own failure
		}
		var ce *checkError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("discovery of {%s}: %w", p.name, err)
	}
	if keep {
		k.memoMu.Lock()
		k.memo[p.name] = all
		k.memoMu.Unlock()
	}
	return nil
}

// passThrough carries an error of what was done with a discovered value
// through the discovery's walk unchanged.
type passThrough struct{ err error }

func (p *passThrough) Error() string { return p.err.Error() }

// value applies filter (must give exactly true) and field to a record.
// ok is false when the record is filtered out or field gives null.
func (p *pathParam) value(ctx context.Context, item map[string]any) (string, bool, error) {
	var record any = item
	if v, ok := item[plainRecordKey]; ok && len(item) == 1 {
		record = v
	}
	if p.filter != nil {
		v, err := first(ctx, p.filter, record)
		if err != nil {
			return "", false, fmt.Errorf("filter %s: %w", p.filterExpr, err)
		}
		if v != true {
			return "", false, nil
		}
	}
	v, err := first(ctx, p.field, record)
	if err != nil {
		return "", false, fmt.Errorf("field %s: %w", p.fieldExpr, err)
	}
	s, ok, err := stringify(v)
	if err != nil {
		return "", false, fmt.Errorf("field %s: %w", p.fieldExpr, err)
	}
	return s, ok, nil
}
