package port_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

const (
	bulkRoute  = "POST /v1/blueprints/{bp}/entities/bulk"
	tokenRoute = "POST /v1/auth/access_token"
)

type testBundle struct {
	emu    *emulator.Server
	url    string
	client *port.Client
}

// setup runs an emulator over real HTTP and a client for it, with blueprint
// svc. tweak adjusts the client's settings.
func setup(t *testing.T, ecfg emulator.Config, tweak func(*port.Config)) *testBundle {
	t.Helper()
	ecfg.ClientID, ecfg.ClientSecret = "id", "secret"
	emu := emulator.New(ecfg)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		emu.Close() // first: it releases requests held by faults
		srv.Close()
	})
	cfg := port.Config{
		BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret",
		IntegrationType: "fake", IntegrationVersion: "1.0.0", IntegrationIdentifier: "it",
		RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := port.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBlueprint(context.Background(), port.Blueprint{"identifier": "svc", "title": "Service", "schema": map[string]any{"properties": map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	emu.ResetCounters()
	return &testBundle{emu: emu, url: srv.URL, client: c}
}

func raw(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entities(t *testing.T, n int, extra map[string]any) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		e := map[string]any{"identifier": fmt.Sprintf("e%03d", i), "blueprint": "svc"}
		for k, v := range extra {
			e[k] = v
		}
		out[i] = raw(t, e)
	}
	return out
}

// allOK checks that every entity got an OK result, in index order.
func allOK(t *testing.T, res []port.ItemResult, n int) {
	t.Helper()
	if len(res) != n {
		t.Fatalf("%d results for %d entities", len(res), n)
	}
	for i, r := range res {
		if r.Index != i || !r.OK {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
}

func TestEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{OrgID: "org_x"}, nil)
	ctx := context.Background()
	c := b.client

	org, err := c.GetOrganization(ctx)
	if err != nil || org.ID != "org_x" {
		t.Fatalf("organization = %+v, %v", org, err)
	}
	if creds, err := c.GetKafkaCredentials(ctx); err != nil || creds.Username == "" {
		t.Errorf("kafka credentials = %+v, %v", creds, err)
	}

	if _, err := c.GetIntegration(ctx); !errors.Is(err, port.ErrNotFound) {
		t.Fatalf("missing integration: %v", err)
	}
	integ, err := c.CreateIntegration(ctx, map[string]any{"installationAppType": "fake", "version": "1.0.0", "config": map[string]any{}})
	if err != nil || integ.Identifier != "it" || integ.InstallationType != "OnPrem" || integ.HasConfig() {
		t.Fatalf("created %+v, %v", integ, err)
	}
	if integ, err = c.PatchIntegration(ctx, map[string]any{"processingMode": "ocean-core"}); err != nil || integ.ProcessingMode != "ocean-core" {
		t.Errorf("patched %+v, %v", integ, err)
	}
	if req, err := c.GetResyncRequest(ctx); err != nil || req != nil {
		t.Errorf("resync request before any = %+v, %v", req, err)
	}
	mapping := map[string]any{"resources": []any{map[string]any{"kind": "k"}}}
	if integ, err = c.PatchIntegrationConfig(ctx, mapping, true); err != nil || !integ.HasConfig() {
		t.Errorf("config patch = %+v, %v", integ, err)
	}
	if req, _ := c.GetResyncRequest(ctx); req != nil {
		t.Errorf("x-skip-resync created a request: %+v", req)
	}
	if _, err = c.PatchIntegrationConfig(ctx, mapping, false); err != nil {
		t.Fatal(err)
	}
	if req, err := c.GetResyncRequest(ctx); err != nil || req == nil || req.UpdatedAt == "" {
		t.Errorf("resync request = %+v, %v", req, err)
	}
	five := 5
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	integ, err = c.PatchResyncState(ctx, port.ResyncState{Status: port.ResyncRunning, LastResyncStart: &start, IntervalInMinuets: &five})
	if err != nil || integ.ResyncState == nil || integ.ResyncState.Status != port.ResyncRunning || *integ.ResyncState.IntervalInMinuets != 5 || integ.ResyncState.UpdatedAt != integ.UpdatedAt {
		t.Errorf("resync state = %+v, %v", integ, err)
	}
	if got, err := c.GetIntegration(ctx); err != nil || got.ResyncState.Status != port.ResyncRunning {
		t.Errorf("integration = %+v, %v", got, err)
	}

	bp, err := c.GetBlueprint(ctx, "svc")
	if err != nil || bp.Identifier() != "svc" {
		t.Fatalf("blueprint = %v, %v", bp, err)
	}
	if _, err := c.GetBlueprint(ctx, "nope"); !errors.Is(err, port.ErrNotFound) {
		t.Errorf("missing blueprint: %v", err)
	}
	if _, err := c.CreateBlueprint(ctx, port.Blueprint{"identifier": "dept", "title": "Dept", "schema": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if bp, err = c.PatchBlueprint(ctx, "svc", port.Blueprint{"relations": map[string]any{"dept": map[string]any{"target": "dept", "required": false, "many": false}}}); err != nil || bp["relations"].(map[string]any)["dept"] == nil {
		t.Errorf("patched blueprint = %v, %v", bp, err)
	}

	e, created, err := c.UpsertEntity(ctx, "svc", raw(t, map[string]any{"identifier": "single", "relations": map[string]any{"dept": "d1"}}), port.WriteOptions{CreateMissingRelatedEntities: true})
	if err != nil || !created || e["identifier"] != "single" || b.emu.Entity("dept", "d1") == nil {
		t.Errorf("single upsert = %v %v %v", e, created, err)
	}
	if _, created, _ = c.UpsertEntity(ctx, "svc", raw(t, map[string]any{"identifier": "single"}), port.WriteOptions{}); created {
		t.Error("second single upsert says created")
	}
	res, err := c.UpsertEntities(ctx, "svc", entities(t, 45, nil), port.WriteOptions{Merge: true, EventType: "resync", ResyncID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, res, 45)
	if n := b.emu.Requests()[bulkRoute]; n != 3 {
		t.Errorf("45 entities in %d bulk requests, want 3", n)
	}

	found, err := c.SearchEntities(ctx, map[string]any{"combinator": "and", "rules": []any{
		map[string]any{"property": "$blueprint", "operator": "=", "value": "svc"},
		map[string]any{"property": "$datasource", "operator": "contains", "value": c.DatasourceSuffix()},
	}}, []string{"identifier", "blueprint"})
	if err != nil || len(found) != 46 || len(found[0]) != 2 {
		t.Errorf("search found %d (first %v), %v", len(found), found, err)
	}

	b.emu.ResetCounters()
	var listed []port.EntityRef
	if err := c.ListOwnedEntities(ctx, time.Time{}, 10, func(page []port.EntityRef) error {
		listed = append(listed, page...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 47 || b.emu.Requests()["POST /v1/blueprints/entities/datasource-entities"] != 5 {
		t.Errorf("listed %d in %v", len(listed), b.emu.Requests())
	}
	var before int
	if err := c.ListOwnedEntities(ctx, time.Now().Add(-time.Hour), 0, func(page []port.EntityRef) error {
		before += len(page)
		return nil
	}); err != nil || before != 0 {
		t.Errorf("listed before an hour ago: %d, %v", before, err)
	}
	stop := errors.New("stop")
	if err := c.ListOwnedEntities(ctx, time.Time{}, 10, func([]port.EntityRef) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error = %v", err)
	}

	if err := c.DeleteEntity(ctx, "svc", "single", false, port.WriteOptions{}); err != nil {
		t.Error(err)
	}
	if err := c.DeleteEntity(ctx, "svc", "single", false, port.WriteOptions{}); !errors.Is(err, port.ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	ids := append([]string{"missing"}, b.emu.Identifiers("svc")...)
	b.emu.ResetCounters()
	deleted, err := c.DeleteEntities(ctx, "svc", ids, true, port.WriteOptions{EventType: "resync"})
	if err != nil || len(deleted) != 45 || b.emu.EntityCount("svc") != 0 {
		t.Errorf("deleted %d, %v; left %d", len(deleted), err, b.emu.EntityCount("svc"))
	}
	if err := c.DeleteBlueprint(ctx, "svc"); err != nil {
		t.Error(err)
	}
	if err := c.DeleteBlueprint(ctx, "svc"); !errors.Is(err, port.ErrNotFound) {
		t.Errorf("second blueprint delete = %v", err)
	}
	if got := b.emu.EntityDatasources("dept", "d1"); len(got) != 1 || got[0] != "port-ocean/fake/1.0.0/it/exporter" {
		t.Errorf("datasource = %v", got)
	}
}

func TestErrorsKeepPortDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	ctx := context.Background()
	_, err := b.client.CreateBlueprint(ctx, port.Blueprint{"identifier": "bad id", "title": "x", "schema": map[string]any{}})
	var pe *port.Error
	if !errors.As(err, &pe) || pe.Route != "/blueprints" || pe.Method != "POST" || pe.Status != 422 || pe.Code != "invalid_request" || pe.Message == "" || pe.Attempts != 1 {
		t.Errorf("error = %#v", err)
	}
	if !port.Permanent(err) || !strings.Contains(err.Error(), "422 invalid_request") {
		t.Errorf("%v: not permanent or badly worded", err)
	}
	_, err = b.client.UpsertEntities(ctx, "nope", entities(t, 3, nil), port.WriteOptions{})
	if port.StatusOf(err) != 404 || !port.Permanent(err) || !errors.Is(err, port.ErrNotFound) || b.emu.Requests()[bulkRoute] != 1 {
		t.Errorf("unknown blueprint: %v, %d bulk requests", err, b.emu.Requests()[bulkRoute])
	}
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, Status: 422, Code: "invalid_request"})
	if _, err := b.client.UpsertEntities(ctx, "svc", entities(t, 1, nil), port.WriteOptions{}); port.StatusOf(err) != 422 || b.emu.Requests()[bulkRoute] != 2 {
		t.Errorf("422 retried or lost: %v", err)
	}
	// Retries spent: the last status and Port's words, with the attempt count.
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Status: 503})
	_, err = b.client.UpsertEntities(ctx, "svc", entities(t, 1, nil), port.WriteOptions{})
	if !errors.As(err, &pe) || pe.Status != 503 || pe.Code != "internal_error" || pe.Attempts != 11 || port.Permanent(err) {
		t.Errorf("after retries: %#v", err)
	}
	// A transport error keeps its cause.
	b.emu.ClearFaults()
	b.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints", Times: 1, Drop: true})
	_, err = b.client.CreateBlueprint(ctx, port.Blueprint{"identifier": "x", "title": "x", "schema": map[string]any{}})
	if !errors.As(err, &pe) || pe.Status != 0 || pe.Err == nil || !strings.Contains(err.Error(), "/blueprints") {
		t.Errorf("dropped creation: %#v", err)
	}
}

func TestItemErrors207(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	in := []json.RawMessage{
		raw(t, map[string]any{"identifier": "a", "blueprint": "svc", "title": "A"}),
		raw(t, map[string]any{"identifier": "bad id with spaces", "blueprint": "svc"}),
		raw(t, map[string]any{"identifier": "c", "blueprint": "svc", "relations": map[string]any{"nope": "x"}}),
		raw(t, map[string]any{"identifier": map[string]any{"combinator": "and", "rules": []any{map[string]any{"property": "$title", "operator": "=", "value": "Z"}}}}),
	}
	res, err := b.client.UpsertEntities(context.Background(), "svc", in, port.WriteOptions{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []port.ItemResult{
		{Index: 0, OK: true, Identifier: "a", Created: true},
		{Index: 1, Identifier: "bad id with spaces", Status: 422, Code: "invalid_request"},
		{Index: 2, Identifier: "c", Status: 422, Code: "invalid_request"},
		{Index: 3, Identifier: "unknown", Status: 404, Code: "not_found"},
	}
	for i, w := range want {
		got := res[i]
		msg := got.Message
		got.Message = ""
		if got != w || (!w.OK && msg == "") {
			t.Errorf("item %d = %+v (message %q), want %+v", i, res[i], msg, w)
		}
	}
	if b.emu.EntityCount("svc") != 1 || b.emu.Requests()[bulkRoute] != 1 {
		t.Errorf("entities %d, bulk requests %d: a 207 must not be retried", b.emu.EntityCount("svc"), b.emu.Requests()[bulkRoute])
	}
}

func TestBatchingBySize(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	ctx := context.Background()
	big := entities(t, 7, map[string]any{"properties": map[string]any{"bio": strings.Repeat("x", 300<<10)}})
	huge := raw(t, map[string]any{"identifier": "huge", "properties": map[string]any{"bio": strings.Repeat("x", 1<<20)}})
	in := append(big[:3:3], huge)
	in = append(in, big[3:]...)
	res, err := b.client.UpsertEntities(ctx, "svc", in, port.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Index != i || r.OK != (i != 3) {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	if r := res[3]; r.Status != 413 || r.Code != "request_too_large" {
		t.Errorf("oversized entity = %+v", r)
	}
	// 300 KiB entities: three fit in 1 MiB, so 7 take 3 requests.
	if n := b.emu.Requests()[bulkRoute]; n != 3 || b.emu.EntityCount("svc") != 7 {
		t.Errorf("%d bulk requests, %d entities; want 3 and 7", n, b.emu.EntityCount("svc"))
	}
}

func TestBulkSplitsOn413(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 2, Status: 413})
	res, err := b.client.UpsertEntities(context.Background(), "svc", entities(t, 5, nil), port.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, res, 5)
	// 5 -> 413; 2 -> 413; 1, 1; 3.
	if n := b.emu.Requests()[bulkRoute]; n != 5 || b.emu.EntityCount("svc") != 5 {
		t.Errorf("%d bulk requests, %d entities", n, b.emu.EntityCount("svc"))
	}
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Status: 413})
	res, err = b.client.UpsertEntities(context.Background(), "svc", entities(t, 2, nil), port.WriteOptions{})
	if err != nil || len(res) != 2 || res[0].Status != 413 || res[1].Status != 413 {
		t.Errorf("always 413: %+v, %v", res, err)
	}
}

func Test429StormOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, func(c *port.Config) { c.RetryWaitMax = 10 * time.Millisecond })
	far := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 8, Status: 429,
		Header: http.Header{"Retry-After": {"3600"}, "X-Ratelimit-Reset": {far}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Period": {"3600"}}})
	start := time.Now()
	res, err := b.client.UpsertEntities(context.Background(), "svc", entities(t, 60, nil), port.WriteOptions{})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, res, 60)
	if b.emu.EntityCount("svc") != 60 || b.emu.Requests()[bulkRoute] != 11 {
		t.Errorf("%d entities in %d bulk requests", b.emu.EntityCount("svc"), b.emu.Requests()[bulkRoute])
	}
	// Port asked for an hour eight times; capped, the waits add up to
	// about 8 x 2 x 10ms (backoff and pacer). A generous bound still
	// fails at once if the cap is ignored.
	if elapsed > 5*time.Second {
		t.Errorf("storm took %v: Retry-After not capped", elapsed)
	}
}

func TestTokenExpiresMidBulk(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Skip: 2, Times: 1, ExpireTokens: true})
	res, err := b.client.UpsertEntities(context.Background(), "svc", entities(t, 100, nil), port.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, res, 100)
	reqs := b.emu.Requests()
	if b.emu.EntityCount("svc") != 100 || reqs[bulkRoute] != 6 || reqs[tokenRoute] != 1 {
		t.Errorf("entities %d, requests %v: want 6 bulks and 1 new token", b.emu.EntityCount("svc"), reqs)
	}
	// A token Port keeps refusing fails after one refresh.
	b.emu.InjectFault(emulator.Fault{Route: "GET /v1/organization", Status: 401})
	b.emu.ResetCounters()
	_, err = b.client.GetOrganization(context.Background())
	var pe *port.Error
	if !errors.As(err, &pe) || pe.Status != 401 || pe.Attempts != 2 || b.emu.Requests()[tokenRoute] != 1 {
		t.Errorf("persistent 401: %#v, requests %v", err, b.emu.Requests())
	}
	// Wrong credentials are not retried.
	bad, _ := port.New(port.Config{BaseURL: b.url, ClientID: "id", ClientSecret: "wrong", IntegrationType: "fake", IntegrationIdentifier: "it", RetryWaitMax: time.Millisecond})
	b.emu.ResetCounters()
	if _, err := bad.GetOrganization(context.Background()); port.StatusOf(err) != 401 || b.emu.Requests()[tokenRoute] != 1 {
		t.Errorf("wrong secret: %v, requests %v", err, b.emu.Requests())
	}
}

// fakeClock is a clock tests move by hand, shared by client and emulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	b := setup(t, emulator.Config{TokenTTL: 100 * time.Second, Now: clk.Now}, func(c *port.Config) { c.Now = clk.Now })
	ctx := context.Background()
	var tokens []string
	for _, at := range []time.Duration{10, 60, 90, 99, 101, 150, 201} {
		clk.Set(t0.Add(at * time.Second))
		if _, err := b.client.GetOrganization(ctx); err != nil {
			t.Fatalf("at %ds: %v", at, err)
		}
		tokens = append(tokens, b.client.Secrets()[1])
	}
	// Every call went through at once: none met a 401.
	if n := b.emu.Requests()["GET /v1/organization"]; n != 7 {
		t.Errorf("%d organization requests for 7 calls: a token expired in use", n)
	}
	if tokens[0] != tokens[3] || tokens[3] == tokens[4] || tokens[4] == tokens[6] {
		t.Errorf("tokens = %v: want one until 100s, then new ones", tokens)
	}
}

func TestConnectionResets(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.Config{}, nil)
	ctx := context.Background()
	// Dropped before Port saw them, then an answer cut in the middle after
	// Port wrote the entities: the replay finds them and reports them.
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 2, Drop: true})
	b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, Truncate: true})
	res, err := b.client.UpsertEntities(ctx, "svc", entities(t, 20, nil), port.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, res, 20)
	if res[0].Created || b.emu.Requests()[bulkRoute] != 4 || b.emu.EntityCount("svc") != 20 {
		t.Errorf("replayed bulk: created %v, %d requests, %d entities", res[0].Created, b.emu.Requests()[bulkRoute], b.emu.EntityCount("svc"))
	}
	b.emu.InjectFault(emulator.Fault{Route: "POST /v1/entities/search", Times: 1, Truncate: true})
	if found, err := b.client.SearchEntities(ctx, map[string]any{"combinator": "and", "rules": []any{}}, nil); err != nil || len(found) != 20 {
		t.Errorf("search after a cut answer: %d, %v", len(found), err)
	}

	// A creation is not replayed after Port may have processed it...
	b.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints", Times: 1, Truncate: true})
	_, err = b.client.CreateBlueprint(ctx, port.Blueprint{"identifier": "dept", "title": "D", "schema": map[string]any{}})
	if err == nil || b.emu.Requests()["POST /v1/blueprints"] != 1 || len(b.emu.Blueprints()) != 2 {
		t.Errorf("cut creation: %v, %v", err, b.emu.Requests())
	}
	// ...but is retried on 429, which Port answers without processing.
	b.emu.InjectFault(emulator.Fault{Route: "POST /v1/blueprints", Times: 2, Status: 429})
	if _, err := b.client.CreateBlueprint(ctx, port.Blueprint{"identifier": "team", "title": "T", "schema": map[string]any{}}); err != nil {
		t.Errorf("creation after 429s: %v", err)
	}
}

func TestNoConnectionIsRetried(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Config{ClientID: "id", ClientSecret: "s"})
	srv := httptest.NewServer(emu.Handler())
	// No kept-alive connection: a POST on a reused connection that the
	// server closed may have been sent, and is rightly not retried.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, err := port.New(port.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "s", IntegrationType: "fake", IntegrationIdentifier: "it",
		RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetOrganization(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close() // nothing listens there any more; the token is cached
	emu.Close()
	_, err = c.CreateIntegration(context.Background(), map[string]any{})
	var pe *port.Error
	if !errors.As(err, &pe) || pe.Attempts != 4 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused connection: %#v", err)
	}
}

// A 2xx answer that is not Port's JSON (a proxy's page, an empty body, JSON
// of another shape) is a transport failure: retried, then an error with no
// HTTP status, never entities reported written.
func TestUndecodableSuccessIsATransportFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		body  []byte
		ctype string
		want  string
	}{
		{"empty", emulator.EmptyBody, "application/json", "an empty body"},
		{"text", emulator.TextBody, "text/plain", "upstream connect error"},
		{"html", emulator.HTMLBody, "text/html", "text/html"},
		{"other JSON", []byte(`{"ok":true}`), "application/json", `no "entities" or "errors"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.Config{}, func(c *port.Config) { c.RetryMax = 2 })
			b.emu.InjectFault(emulator.Fault{Route: bulkRoute, RawBody: tt.body, RawType: tt.ctype})
			res, err := b.client.UpsertEntities(context.Background(), "svc", entities(t, 5, nil), port.WriteOptions{})
			var bad *port.BadAnswerError
			pe := &port.Error{}
			if !errors.As(err, &bad) || !errors.As(err, &pe) || port.StatusOf(err) != 0 || pe.Attempts != 3 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (attempts %d), want a bad answer with no status after 3 attempts, saying %q", err, pe.Attempts, tt.want)
			}
			for _, r := range res {
				if r.OK {
					t.Errorf("entity %d reported written", r.Index)
				}
			}
			// Once the proxy behaves, the retry carries the batch.
			b.emu.ClearFaults()
			b.emu.InjectFault(emulator.Fault{Route: bulkRoute, Times: 1, RawBody: tt.body, RawType: tt.ctype})
			res, err = b.client.UpsertEntities(context.Background(), "svc", entities(t, 5, nil), port.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			allOK(t, res, 5)
		})
	}
}

// Tokens that die after a few requests while ten writers are in flight:
// every request gets through, refreshing as often as it needs to while
// each new token works, and the writers share one refresh per token.
func TestTokensDyingUnderLoad(t *testing.T) {
	t.Parallel()
	for _, uses := range []int{5, 8, 12} {
		t.Run(fmt.Sprintf("%d uses", uses), func(t *testing.T) {
			t.Parallel()
			const writers, calls = 10, 5
			b := setup(t, emulator.Config{TokenUses: uses}, func(c *port.Config) { c.MaxConcurrentRequests = writers })
			var wg sync.WaitGroup
			errs := make(chan error, writers*calls)
			for range writers {
				wg.Go(func() {
					for range calls {
						res, err := b.client.UpsertEntities(context.Background(), "svc", entities(t, 40, nil), port.WriteOptions{})
						if err == nil {
							for _, r := range res {
								if !r.OK {
									err = fmt.Errorf("entity %d: %d %s", r.Index, r.Status, r.Message)
									break
								}
							}
						}
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("a writer failed: %v", err)
				}
			}
			// 100 bulk requests got through; each token but the last
			// served `uses` of them before it died: one refresh per token.
			ok := writers * calls * 2
			if n := b.emu.Requests()[tokenRoute]; n > (ok+uses-1)/uses+1 {
				t.Errorf("%d token requests for %d requests of %d uses each: writers refreshed apart", n, ok, uses)
			}
		})
	}
	// A token that fails on its first use is not refreshed again: the
	// credentials no longer work.
	b := setup(t, emulator.Config{TokenUses: 1}, nil)
	b.emu.InjectFault(emulator.Fault{Route: "GET /v1/organization", Status: 401})
	b.emu.ResetCounters()
	if _, err := b.client.GetOrganization(context.Background()); port.StatusOf(err) != 401 || b.emu.Requests()[tokenRoute] != 1 {
		t.Errorf("401 on every token: %v after %d token requests, want 401 after 1", err, b.emu.Requests()[tokenRoute])
	}
}
