package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"oceand/daemon"
	"oceand/logging"
	"oceand/port/emulator"
	"oceand/sources"
	"oceand/sources/fake"
	"oceand/store"
)

// gatedSource is the fake source, whose fetch of one kind waits for the
// test, and which logs its "credential" when built, as a careless source
// would.
type gatedSource struct {
	sources.Source
	kind     string
	started  chan struct{}
	release  chan struct{}
	announce sync.Once
}

func (g *gatedSource) Fetch(ctx context.Context, r sources.Resource, emit func([]map[string]any) error) error {
	if r.Kind == g.kind {
		g.announce.Do(func() { close(g.started) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return g.Source.Fetch(ctx, r, emit)
}

// gatedRegistry serves the fake source through g (gating nothing when
// g.kind is empty).
func gatedRegistry(g *gatedSource) *sources.Registry {
	def := fake.Definition()
	newFake := def.New
	def.New = func(cfg map[string]any, env sources.Env) (sources.Source, error) {
		src, err := newFake(cfg, env)
		if err != nil {
			return nil, err
		}
		env.Logger.Info("connecting with credential test-secret", "credential", "test-secret")
		g.Source = src
		return g, nil
	}
	return sources.NewRegistry(def)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type shippedLogs struct {
	Logs []struct {
		Message   string         `json:"message"`
		Level     string         `json:"level"`
		Timestamp string         `json:"timestamp"`
		Extra     map[string]any `json:"extra"`
	} `json:"logs"`
}

func (b *testBundle) shippedLogs(t *testing.T) (shippedLogs, string) {
	t.Helper()
	resp, err := http.Get(b.url + "/_emulator/integrations/test-integration/logs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	var out shippedLogs
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out, buf.String()
}

func TestLogsReachPortRedactedAsOnStderr(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 10, "single_department_run": true})
	var stderr syncBuffer
	redactor := logging.NewRedactor()
	logger, err := logging.New(&stderr, logging.Options{Format: "json", Redactor: redactor})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(s, daemon.Options{Logger: logger, Redactor: redactor, Registry: gatedRegistry(&gatedSource{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs, raw := b.shippedLogs(t)
	if strings.Contains(raw, "test-secret") || strings.Contains(stderr.String(), "test-secret") {
		t.Fatalf("the secret reached Port or stderr:\n%s", raw)
	}
	var credential, finished bool
	for _, r := range logs.Logs {
		if strings.HasPrefix(r.Message, "connecting with credential") {
			credential = true
			if r.Message != "connecting with credential [REDACTED]" || r.Extra["credential"] != logging.Mask || r.Extra["component"] != "source" || r.Level != "INFO" {
				t.Errorf("shipped %+v; want message and attribute redacted as on stderr, component source, level INFO", r)
			}
			// Ocean's records carry the host and a per-process instance id.
			if host, _ := os.Hostname(); r.Extra["hostname"] != host || r.Extra["instance"] == "" || r.Extra["instance"] == nil {
				t.Errorf("extra %v; want hostname %q and an instance id, as Ocean's records", r.Extra, host)
			}
			if !strings.Contains(stderr.String(), `"msg":"connecting with credential [REDACTED]"`) {
				t.Errorf("stderr lacks the same redacted line:\n%s", stderr.String())
			}
		}
		if r.Message == "job finished" && r.Extra["state"] == "succeeded" {
			finished = true
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Timestamp); err != nil {
			t.Errorf("record %q: timestamp %q", r.Message, r.Timestamp)
		}
	}
	if strings.Contains(stderr.String(), `"instance"`) {
		t.Error("stderr records carry the shipped records' instance id; only Port's should")
	}
	if !credential || !finished {
		t.Errorf("shipped %d records; want the source's line and the job's end among them (flushed at stop)", len(logs.Logs))
	}
	if d.LogRecordsDropped() != 0 {
		t.Errorf("%d records dropped with Port answering", d.LogRecordsDropped())
	}
}

func TestLogIngestFailingOrHungNeverHoldsTheResync(t *testing.T) {
	t.Parallel()
	for _, hang := range []bool{false, true} {
		t.Run(map[bool]string{false: "500", true: "hung"}[hang], func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			hold := make(chan struct{})
			defer close(hold) // only after the resync ended
			f := emulator.Fault{Route: "POST /ingest/logs/{id}", Status: http.StatusInternalServerError}
			if hang {
				f = emulator.Fault{Route: "POST /ingest/logs/{id}", Hold: hold}
			}
			b.emu.InjectFault(f)
			var stderr syncBuffer
			logger, err := logging.New(&stderr, logging.Options{Format: "json", Level: "debug"})
			if err != nil {
				t.Fatal(err)
			}
			s := b.settings(t, map[string]any{"entity_amount": 200, "single_department_run": true})
			s.LogLevel = "debug"
			d, err := daemon.New(s, daemon.Options{Logger: logger,
				LogShipping: daemon.LogShipping{BatchSize: 1, BufferSize: 4, FlushTimeout: 50 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v; want the resync to succeed whatever the log ingest does", err)
			}
			if job := d.LastJob(); job == nil || job.State != store.JobSucceeded {
				t.Fatalf("job %+v; want succeeded", job)
			}
			if n := b.emu.EntityCount("fake-person"); n != 200 {
				t.Errorf("persons in Port = %d, want 200", n)
			}
			if n := b.emu.Requests()["POST /ingest/logs/{id}"]; n == 0 {
				t.Fatal("no log batch reached Port")
			}
			if d.LogRecordsDropped() == 0 {
				t.Error("no record counted as dropped")
			}
			if !strings.Contains(stderr.String(), "not shipped to Port") {
				t.Errorf("the drops are not reported on stderr:\n%s", stderr.String())
			}
		})
	}
}

// scrape reads the exposition over HTTP.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q; want Prometheus text", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the sample of family name whose labels include want; -1 when
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func TestMetricsDuringAndAfterAResync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": 30, "single_department_run": true})
	g := &gatedSource{kind: "fake-person", started: make(chan struct{}), release: make(chan struct{})}
	d, err := daemon.New(s, daemon.Options{Registry: gatedRegistry(g)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Metrics().Handler())
	defer srv.Close()
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()

	<-g.started // the department kind is done; persons are held
	during := scrape(t, srv.URL)
	if v := value(during, "oceand_resync_running", nil); v != 1 {
		t.Errorf("resync_running = %v during the resync; want 1", v)
	}
	if v := value(during, "oceand_resyncs_total", nil); v != -1 {
		t.Errorf("resyncs_total = %v during the first resync; want no series yet", v)
	}
	deptDuring := value(during, "oceand_entities_total", map[string]string{"kind": "fake-department-0", "outcome": "upserted"})
	if v := value(during, "oceand_kinds_total", map[string]string{"kind": "fake-department-0", "state": "completed"}); v != 1 {
		t.Errorf("kinds_total{fake-department-0,completed} = %v during; want 1", v)
	}
	if v := value(during, "oceand_entities_total", map[string]string{"kind": "fake-person-1"}); v != -1 {
		t.Errorf("person entities counted (%v) before the kind ended", v)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	job := d.LastJob()
	after := scrape(t, srv.URL)
	if deptDuring != float64(job.Kinds[0].Upserted) {
		t.Errorf("department upserted %v during the resync; job record %d", deptDuring, job.Kinds[0].Upserted)
	}
	for _, kp := range job.Kinds {
		kind := kp.Kind + "-" + string(rune('0'+kp.Index))
		for outcome, want := range map[string]int64{"fetched": kp.Fetched, "mapped": kp.Mapped, "filtered": kp.Filtered, "dropped": kp.Dropped,
			"upserted": kp.Upserted, "unchanged": kp.Unchanged, "failed": kp.Failed} {
			if got := value(after, "oceand_entities_total", map[string]string{"kind": kind, "outcome": outcome}); got != float64(want) {
				t.Errorf("entities_total{%s,%s} = %v; job record %d", kind, outcome, got, want)
			}
		}
		if got := value(after, "oceand_kind_duration_seconds", map[string]string{"kind": kind, "state": "completed"}); got != 1 {
			t.Errorf("kind_duration_seconds{%s} has %v observations; want 1", kind, got)
		}
	}
	if got := value(after, "oceand_entities_total", map[string]string{"kind": "__reconciliation__", "outcome": "deleted"}); got != float64(job.Reconcile.Deleted) {
		t.Errorf("deleted %v; job record %d", got, job.Reconcile.Deleted)
	}
	if got := value(after, "oceand_resyncs_total", map[string]string{"trigger": "start", "state": "succeeded"}); got != 1 {
		t.Errorf("resyncs_total{start,succeeded} = %v; want 1", got)
	}
	if got := value(after, "oceand_resync_duration_seconds", map[string]string{"state": "succeeded"}); got != 1 {
		t.Errorf("resync_duration_seconds has %v observations; want 1", got)
	}
	if got, want := value(after, "oceand_last_successful_resync_timestamp_seconds", nil), float64(job.FinishedAt.UnixNano())/1e9; got != want {
		t.Errorf("last success %v; want the job's end %v", got, want)
	}
	if got := value(after, "oceand_resync_running", nil); got != 0 {
		t.Errorf("resync_running = %v after; want 0", got)
	}
	bulk := value(after, "oceand_port_requests_total", map[string]string{"method": "POST", "route": "/blueprints/{blueprint}/entities/bulk", "status": "200"})
	if want := float64(b.emu.Requests()["POST /v1/blueprints/{bp}/entities/bulk"]); bulk != want || bulk < 1 {
		t.Errorf("bulk upserts counted %v; Port served %v", bulk, want)
	}
	for name := range after {
		if !strings.HasPrefix(name, "oceand_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %s: want the oceand_ prefix (or the Go, process and handler collectors')", name)
		}
	}
	for _, name := range []string{"go_goroutines", "oceand_port_ratelimit_remaining", "oceand_log_records_dropped_total", "oceand_build_info"} {
		if after[name] == nil {
			t.Errorf("%s is not exposed", name)
		}
	}
	problems, err := testutil.GatherAndLint(d.Metrics().Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Each of Port's UI feeds is on by default, as Ocean's, and off with
// Ocean's setting (sendSyncMetrics is oceand's own: Ocean has none).
func TestUIFeedsOnByDefaultOffWithOceansSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                    string
		flags                   map[string]string
		examples, logs, metrics bool
	}{
		{"defaults", nil, true, true, true},
		{"sendRawDataExamples false", map[string]string{"send_raw_data_examples": "false"}, false, true, true},
		{"enableHttpLogging false", map[string]string{"application.enable_http_logging": "false"}, true, false, true},
		{"sendSyncMetrics false", map[string]string{"send_sync_metrics": "false"}, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := b.settingsWith(t, map[string]any{"entity_amount": 10, "single_department_run": true}, tc.flags)
			if _, err := runOnce(t, s); err != nil {
				t.Fatal(err)
			}
			var ex struct {
				Kinds map[string]any `json:"kinds"`
			}
			var sm struct {
				Resyncs []any `json:"resyncs"`
				Kinds   []any `json:"kinds"`
			}
			for what, out := range map[string]any{"examples": &ex, "sync-metrics": &sm} {
				resp, err := http.Get(b.url + "/_emulator/integrations/test-integration/" + what)
				if err != nil {
					t.Fatal(err)
				}
				err = json.NewDecoder(resp.Body).Decode(out)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			logs, _ := b.shippedLogs(t)
			if got := len(ex.Kinds) > 0; got != tc.examples {
				t.Errorf("examples sent: %v (%d kinds); want %v", got, len(ex.Kinds), tc.examples)
			}
			if got := len(logs.Logs) > 0; got != tc.logs {
				t.Errorf("logs shipped: %v (%d records); want %v", got, len(logs.Logs), tc.logs)
			}
			if got := len(sm.Resyncs) > 0 && len(sm.Kinds) > 0; got != tc.metrics {
				t.Errorf("sync metrics sent: %v (%d POSTs, %d PUTs); want %v", got, len(sm.Resyncs), len(sm.Kinds), tc.metrics)
			}
		})
	}
}
