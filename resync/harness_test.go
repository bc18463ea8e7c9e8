package resync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"oceand/mapping"
	"oceand/port"
	"oceand/port/emulator"
	"oceand/resync"
	"oceand/sources"
	"oceand/store"
)

const integrationID = "resync-test"

// harness is one integration: an emulated Port over HTTP, a state store and
// a Port client, with helpers to run resync jobs the way the job engine does.
type harness struct {
	t    *testing.T
	emu  *emulator.Server
	st   *store.Store
	pc   *port.Client
	reqs *requestLog
	url  string // the emulator's base URL
}

// requestLog records the status of every answered request by route.
type requestLog struct {
	mu       sync.Mutex
	statuses map[string][]int
}

func (l *requestLog) statusesOf(route string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.statuses[route]...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "secret"})
	log := &requestLog{statuses: map[string][]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		emu.Handler().ServeHTTP(rec, r)
		log.mu.Lock()
		route := r.Method + " " + r.URL.Path
		log.statuses[route] = append(log.statuses[route], rec.status)
		log.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	st, err := store.Open(filepath.Join(t.TempDir(), "oceand.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	pc, err := port.New(port.Config{
		BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret",
		IntegrationType: "test", IntegrationVersion: "1.0.0", IntegrationIdentifier: integrationID,
		RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, emu: emu, st: st, pc: pc, reqs: log, url: srv.URL}
	if _, err := pc.CreateIntegration(context.Background(), map[string]any{"installationAppType": "test", "version": "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	return h
}

// blueprint creates a blueprint in Port. relations maps a relation name to
// its target; required makes every relation required.
func (h *harness) blueprint(id string, required bool, relations map[string]string) {
	h.t.Helper()
	bp := port.Blueprint{"identifier": id, "title": id, "schema": map[string]any{"properties": map[string]any{
		"name": map[string]any{"type": "string"}, "rev": map[string]any{"type": "number"},
	}}}
	if len(relations) > 0 {
		rels := map[string]any{}
		for name, target := range relations {
			rels[name] = map[string]any{"title": name, "target": target, "required": required, "many": false}
		}
		bp["relations"] = rels
	}
	if _, err := h.pc.CreateBlueprint(context.Background(), bp); err != nil {
		h.t.Fatal(err)
	}
}

// setMapping stores the mapping in Port as the integration's config.
func (h *harness) setMapping(cfg mappingSpec) {
	h.t.Helper()
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), cfg.config(), true); err != nil {
		h.t.Fatal(err)
	}
}

// mappingSpec builds a port app config: one resource per kind, each mapping
// items {id, name, rev, <rel>: target} to blueprint bp.
type mappingSpec struct {
	threshold        float64
	deleteDependents bool
	createMissing    bool
	resources        []resourceSpec
}

type resourceSpec struct {
	kind, blueprint string
	identifier      string            // ".id" when empty
	query           string            // selector; "true" when empty
	relations       map[string]string // relation name -> item field
}

func (m mappingSpec) config() map[string]any {
	var resources []any
	for _, r := range m.resources {
		q := r.query
		if q == "" {
			q = "true"
		}
		rels := map[string]any{}
		for name, field := range r.relations {
			rels[name] = "." + field
		}
		id := r.identifier
		if id == "" {
			id = ".id"
		}
		mappings := map[string]any{
			"identifier": id, "title": ".name", "blueprint": fmt.Sprintf("%q", r.blueprint),
			"properties": map[string]any{"name": ".name", "rev": ".rev"},
		}
		if len(rels) > 0 {
			mappings["relations"] = rels
		}
		resources = append(resources, map[string]any{
			"kind": r.kind, "selector": map[string]any{"query": q},
			"port": map[string]any{"entity": map[string]any{"mappings": mappings}},
		})
	}
	if resources == nil {
		resources = []any{}
	}
	return map[string]any{
		"enableMergeEntity": true, "deleteDependentEntities": m.deleteDependents,
		"createMissingRelatedEntities": m.createMissing, "entityDeletionThreshold": m.threshold,
		"resources": resources,
	}
}

// source serves fixed items per kind; failAfter makes a kind's fetch fail
// after that many items.
type source struct {
	mu        sync.Mutex
	items     map[string][]map[string]any
	failAfter map[string]int
	fetches   map[string]int
	pageSize  int
	// block, when set for a kind, is closed by the test to let the fetch
	// of that kind proceed; started is closed when it begins.
	block   map[string]chan struct{}
	started map[string]chan struct{}
}

func newSource() *source {
	return &source{items: map[string][]map[string]any{}, failAfter: map[string]int{}, fetches: map[string]int{},
		block: map[string]chan struct{}{}, started: map[string]chan struct{}{}, pageSize: 3}
}

// add appends n items named <prefix>-<i> to kind, each with extra fields.
func (s *source) add(kind, prefix string, n int, extra map[string]any) {
	for i := range n {
		item := map[string]any{"id": fmt.Sprintf("%s-%d", prefix, i), "name": fmt.Sprintf("%s %d", prefix, i), "rev": float64(0)}
		for k, v := range extra {
			item[k] = v
		}
		s.items[kind] = append(s.items[kind], item)
	}
}

func (s *source) Fetch(ctx context.Context, r sources.Resource, emit func([]map[string]any) error) error {
	s.mu.Lock()
	s.fetches[r.Kind]++
	items := s.items[r.Kind]
	fail, failing := s.failAfter[r.Kind]
	block, started := s.block[r.Kind], s.started[r.Kind]
	s.mu.Unlock()
	if started != nil {
		close(started)
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for start := 0; start < len(items); start += s.pageSize {
		end := min(start+s.pageSize, len(items))
		if failing && end > fail {
			if fail > start {
				if err := emit(items[start:fail]); err != nil {
					return err
				}
			}
			return fmt.Errorf("third-party API answered 500 after %d items", fail)
		}
		page := make([]map[string]any, 0, end-start)
		for _, it := range items[start:end] {
			cp := make(map[string]any, len(it))
			for k, v := range it {
				cp[k] = v
			}
			page = append(page, cp)
		}
		if err := emit(page); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) fetchCount(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[kind]
}

// reporter is the job engine's side of a running job: it keeps the record
// and stores it on Flush.
type reporter struct {
	mu  sync.Mutex
	st  *store.Store
	job *store.Job
}

func (r *reporter) Update(fn func(j *store.Job)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.job)
	return nil
}

func (r *reporter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.PutJob(r.job)
}

// jobOpts shape a job as the engine would create it.
type jobOpts struct {
	dryRun   bool
	resumeOf *store.Job
	now      func() time.Time // the resync's clock; time.Now when nil
	// configure, when set, changes the resync's configuration.
	configure func(*resync.Config)
}

// run creates a job, runs it to the end and stores its final record.
func (h *harness) run(ctx context.Context, src sources.Source, o jobOpts) (*store.Job, error) {
	h.t.Helper()
	now := time.Now()
	j := &store.Job{State: store.JobRunning, Trigger: "cli", CreatedAt: now, StartedAt: &now, ChainStartedAt: &now, DryRun: o.dryRun}
	if prev := o.resumeOf; prev != nil {
		j.Trigger, j.ResumeOf, j.ChainID, j.ChainStartedAt = "resume", prev.ID, prev.ChainID, prev.ChainStartedAt
	}
	if err := h.st.CreateJob(j); err != nil {
		h.t.Fatal(err)
	}
	cfg := resync.Config{Port: h.pc, Store: h.st, Source: src, Mapping: mapping.Options{}, IndexFlushEntries: 7, Now: o.now}
	if o.configure != nil {
		o.configure(&cfg)
	}
	rs := resync.New(cfg)
	err := rs.Run(ctx, j, &reporter{st: h.st, job: j})
	end := time.Now()
	j.FinishedAt = &end
	switch {
	case err == nil:
		j.State = store.JobSucceeded
	case ctx.Err() != nil:
		j.State = store.JobInterrupted
	default:
		j.State, j.Error = store.JobFailed, err.Error()
	}
	if perr := h.st.PutJob(j); perr != nil {
		h.t.Fatal(perr)
	}
	return j, err
}

// mustRun runs a job that must succeed.
func (h *harness) mustRun(src sources.Source, o jobOpts) *store.Job {
	h.t.Helper()
	j, err := h.run(context.Background(), src, o)
	if err != nil {
		h.t.Fatalf("job %d: %v", j.ID, err)
	}
	return j
}

func (h *harness) report(j *store.Job) *store.JobReport {
	h.t.Helper()
	r, err := h.st.GetReport(j.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if r == nil {
		return &store.JobReport{}
	}
	return r
}

func (h *harness) requests(route string) int { return h.emu.Requests()[route] }

// wantCount checks how many entities of blueprint Port holds; format names
// the expectation and takes the count found.
func (h *harness) wantCount(blueprint string, want int, format string) {
	h.t.Helper()
	if got := h.emu.EntityCount(blueprint); got != want {
		h.t.Errorf(format, got)
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
