package port_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

type testBundle struct {
	emu    *emulator.Server
	client *port.Client
}

func setup(t *testing.T, wrap func(http.Handler) http.Handler) *testBundle {
	t.Helper()
	emu := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "secret"})
	var h http.Handler = emu.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := port.New(port.Config{
		BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret",
		IntegrationType: "fake", IntegrationVersion: "1.0.0", IntegrationIdentifier: "it",
		RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateBlueprint(ctx, port.Blueprint{"identifier": "svc", "title": "Service", "schema": map[string]any{"properties": map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	return &testBundle{emu: emu, client: c}
}

func raw(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBulkUpsertReportsItemErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	entities := []json.RawMessage{
		raw(t, map[string]any{"identifier": "a", "blueprint": "svc", "title": "A"}),
		raw(t, map[string]any{"identifier": "bad id with spaces", "blueprint": "svc"}),
		raw(t, map[string]any{"identifier": "c", "blueprint": "svc", "relations": map[string]any{"nope": "x"}}),
	}
	res, err := b.client.UpsertEntities(context.Background(), "svc", entities, port.WriteOptions{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]port.ItemResult{}
	for _, r := range res {
		got[r.Index] = r
	}
	if !got[0].OK || got[0].Identifier != "a" || !got[0].Created {
		t.Errorf("item 0 = %+v", got[0])
	}
	if got[1].OK || got[1].Status != 422 {
		t.Errorf("item 1 = %+v, want 422", got[1])
	}
	if got[2].OK || got[2].Code == "" {
		t.Errorf("item 2 = %+v, want an error code", got[2])
	}
	if b.emu.EntityCount("svc") != 1 {
		t.Errorf("entities in Port = %d, want 1", b.emu.EntityCount("svc"))
	}
	if ds := b.emu.EntityDatasources("svc", "a"); len(ds) != 1 || ds[0] != "port-ocean/fake/1.0.0/it/exporter" {
		t.Errorf("datasource = %v", ds)
	}
}

func TestRetriesServiceUnavailable(t *testing.T) {
	t.Parallel()
	var failures atomic.Int32
	failures.Store(3)
	b := setup(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/blueprints/svc/entities/bulk" && failures.Add(-1) >= 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	res, err := b.client.UpsertEntities(context.Background(), "svc", []json.RawMessage{raw(t, map[string]any{"identifier": "a"})}, port.WriteOptions{})
	if err != nil || len(res) != 1 || !res[0].OK {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
}

func TestBulkSplitsOn413(t *testing.T) {
	t.Parallel()
	var tooLarge atomic.Int32
	b := setup(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Pretend Port's limit is lower than ours: reject bulks of more than 2.
			if r.URL.Path == "/v1/blueprints/svc/entities/bulk" && r.ContentLength > 60 {
				tooLarge.Add(1)
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	var entities []json.RawMessage
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		entities = append(entities, raw(t, map[string]any{"identifier": id}))
	}
	res, err := b.client.UpsertEntities(context.Background(), "svc", entities, port.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, r := range res {
		if r.OK {
			ok++
		}
	}
	if ok != 5 || b.emu.EntityCount("svc") != 5 || tooLarge.Load() == 0 {
		t.Errorf("ok = %d, in Port %d, 413s %d", ok, b.emu.EntityCount("svc"), tooLarge.Load())
	}
}

func TestBatcherRespectsCountAndSize(t *testing.T) {
	t.Parallel()
	b := &port.Batcher{MaxCount: 3, MaxBytes: 45}
	var batches [][]json.RawMessage
	for _, e := range []string{`"aaaaaaaaaa"`, `"bbbbbbbbbb"`, `"cccccccccc"`, `"d"`, `"e"`, `"f"`, `"g"`} {
		if full := b.Add(json.RawMessage(e)); full != nil {
			batches = append(batches, full)
		}
	}
	batches = append(batches, b.Flush())
	sizes := []int{}
	for _, bt := range batches {
		sizes = append(sizes, len(bt))
	}
	// 15 bytes of envelope + 13 per long item: two long items fit in 45.
	want := []int{2, 3, 2}
	if len(sizes) != len(want) {
		t.Fatalf("batch sizes = %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("batch sizes = %v, want %v", sizes, want)
		}
	}
}
