package resync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"oceand/logging"
	"oceand/port/emulator"
	"oceand/resync"
	"oceand/store"
)

const (
	routeExamples    = "POST /v1/integration/{id}/kinds/{kind}/examples"
	routeSyncMetrics = "POST /ingest/metrics/{id}/syncMetrics"
	routeKindMetrics = "PUT /ingest/metrics/{id}/syncMetrics/resync/{event}/kind/{kind}"
	routeHeartbeat   = "POST /ingest/metrics/{id}/heartbeat"
	secretValue      = "s3cr3t-api-token-value"
)

// admin reads one of the emulator's admin routes over HTTP.
func (h *harness) admin(what string, out any) {
	h.t.Helper()
	resp, err := http.Get(h.url + "/_emulator/integrations/" + integrationID + "/" + what)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET admin %s: %d", what, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		h.t.Fatal(err)
	}
}

type adminExamples struct {
	Kinds map[string]struct {
		Examples []map[string]any `json:"examples"`
		Posts    int              `json:"posts"`
	} `json:"kinds"`
}

type adminSyncMetrics struct {
	Resyncs []struct {
		SyncKindsMetrics []metricsEntry `json:"syncKindsMetrics"`
	} `json:"resyncs"`
	Kinds []struct {
		EventID         string       `json:"eventId"`
		KindIdentifier  string       `json:"kindIdentifier"`
		SyncKindMetrics metricsEntry `json:"syncKindMetrics"`
	} `json:"kinds"`
}

// metricsEntry is one kind's sync metrics as Ocean sends them (its
// Metrics.generate_metrics): the integration, the kind, the event, the
// state, and the metrics nested by label, phase then object_count_type.
type metricsEntry struct {
	IntegrationType       string         `json:"integrationType"`
	IntegrationIdentifier string         `json:"integrationIdentifier"`
	IntegrationVersion    string         `json:"integrationVersion"`
	OceanVersion          string         `json:"oceanVersion"`
	KindIdentifier        string         `json:"kindIdentifier"`
	Kind                  string         `json:"kind"`
	KindIndex             int            `json:"kindIndex"`
	EventID               string         `json:"eventId"`
	SyncState             string         `json:"syncState"`
	Metrics               map[string]any `json:"metrics"`
}

// oceanSyncKindFields are the keys of Ocean's sync metrics entry, no more.
var oceanSyncKindFields = []string{"eventId", "integrationIdentifier", "integrationType", "integrationVersion",
	"kind", "kindIdentifier", "kindIndex", "metrics", "oceanVersion", "syncState"}

// objectCount is metrics.phase.<phase>.object_count_type.<typ>.object_count.
func (m metricsEntry) objectCount(phase, typ string) (float64, bool) {
	v, ok := dig(m.Metrics, "phase", phase, "object_count_type", typ, "object_count").(float64)
	return v, ok
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// visible turns on everything a resync sends for Port's UI, masking secrets
// as the daemon's redactor does.
func visible(r *logging.Redactor) func(*resync.Config) {
	return func(c *resync.Config) {
		c.SendRawDataExamples, c.SyncMetrics, c.RedactJSON = true, true, r.JSON
	}
}

func TestRawExamplesAreMaskedAndSyncMetricsMatchTheJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1, createMissing: true})
	src := newSource()
	src.add("dept", "d", 7, map[string]any{"apiKey": secretValue, "nested": map[string]any{"auth": "Bearer " + secretValue}})
	src.add("person", "p", 12, map[string]any{"dept": "d-0", "note": "see " + secretValue})
	// The mapping reads the secret into an entity: masking the examples
	// must not change what the mapping sees.
	src.items["person"][0]["name"] = secretValue
	h.mustRun(src, jobOpts{})
	src.items["dept"] = src.items["dept"][:6] // one department is gone: reconciliation deletes it
	job := h.mustRun(src, jobOpts{configure: visible(logging.NewRedactor(secretValue))})

	var ex adminExamples
	h.admin("examples", &ex)
	for kind, want := range map[string]int{"dept": 5, "person": 5} {
		k := ex.Kinds[kind]
		if len(k.Examples) != want || k.Posts != 1 {
			t.Errorf("kind %s: %d examples in %d posts; want %d in 1", kind, len(k.Examples), k.Posts, want)
		}
	}
	raw, _ := json.Marshal(ex)
	if strings.Contains(string(raw), secretValue) {
		t.Errorf("a secret reached Port in the examples: %s", raw)
	}
	if d := ex.Kinds["dept"].Examples; len(d) > 0 {
		nested, _ := d[0]["nested"].(map[string]any)
		if d[0]["apiKey"] != logging.Mask || nested["auth"] != "Bearer "+logging.Mask || d[0]["id"] != "d-0" {
			t.Errorf("dept example %v; want apiKey and nested.auth masked, the rest as fetched", d[0])
		}
	}
	if e := h.emu.Entity("person", "p-0"); e == nil || e["title"] != secretValue {
		t.Errorf("entity p-0 = %v; want the item's own name: masking must not touch the items the mapping uses", e)
	}

	var sm adminSyncMetrics
	h.admin("sync-metrics", &sm)
	if len(sm.Resyncs) != 1 {
		t.Fatalf("%d syncMetrics POSTs; want 1 (the first resync sent none)", len(sm.Resyncs))
	}
	announced := sm.Resyncs[0].SyncKindsMetrics
	if len(announced) != 3 || announced[0].KindIdentifier != "dept-0" || announced[1].KindIdentifier != "person-1" ||
		announced[2].KindIdentifier != "__reconciliation__" || announced[0].SyncState != "pending" {
		t.Fatalf("announced kinds %s; want dept-0, person-1, __reconciliation__, pending", dump(announced))
	}
	event := announced[0].EventID
	if len(sm.Kinds) != 3 {
		t.Fatalf("%d kind PUTs; want 3: %s", len(sm.Kinds), dump(sm.Kinds))
	}
	for i, kp := range job.Kinds {
		put := sm.Kinds[i]
		m := put.SyncKindMetrics
		if put.EventID != event || put.KindIdentifier != fmt.Sprintf("%s-%d", kp.Kind, kp.Index) || m.SyncState != "completed" ||
			m.KindIdentifier != put.KindIdentifier || m.Kind != kp.Kind || m.KindIndex != kp.Index {
			t.Errorf("PUT %d: %s; want event %s, %s-%d completed", i, dump(put), event, kp.Kind, kp.Index)
		}
		if m.IntegrationType != "test" || m.IntegrationIdentifier != integrationID || m.IntegrationVersion != "1.0.0" || m.OceanVersion != "1.0.0" {
			t.Errorf("PUT %d names integration %s/%s %s (ocean %s); want test/%s 1.0.0", i,
				m.IntegrationType, m.IntegrationIdentifier, m.IntegrationVersion, m.OceanVersion, integrationID)
		}
		// Every count of the job record, under Ocean's phase and type.
		for _, c := range []struct {
			phase, typ string
			want       int64
		}{
			{"extract", "raw_extracted", kp.Fetched},
			{"transform", "transformed", kp.Mapped},
			{"transform", "filtered_out", kp.Filtered},
			{"transform", "failed", kp.Dropped},
			{"load", "loaded", kp.Upserted},
			{"load", "skipped", kp.Unchanged},
			{"load", "failed", kp.Failed},
		} {
			if got, ok := m.objectCount(c.phase, c.typ); !ok || got != float64(c.want) {
				t.Errorf("kind %s: %s %s = %v (%v); job record %d", put.KindIdentifier, c.phase, c.typ, got, ok, c.want)
			}
		}
		if kp.Fetched == 0 || kp.Upserted+kp.Unchanged == 0 {
			t.Errorf("kind %s: counts %+v; the test needs items fetched and loaded", put.KindIdentifier, kp.Counts)
		}
		if s, ok := dig(m.Metrics, "phase", "resync", "success").(float64); !ok || s != 1 {
			t.Errorf("kind %s: phase.resync.success = %v; want 1", put.KindIdentifier, dig(m.Metrics, "phase", "resync", "success"))
		}
		if _, ok := dig(m.Metrics, "phase", "resync", "duration_seconds").(float64); !ok {
			t.Errorf("kind %s: no phase.resync.duration_seconds in %s", put.KindIdentifier, dump(m.Metrics))
		}
	}
	rec := sm.Kinds[2]
	deleted, _ := rec.SyncKindMetrics.objectCount("delete", "deleted")
	if rec.KindIdentifier != "__reconciliation__" || rec.SyncKindMetrics.SyncState != "completed" ||
		deleted != float64(job.Reconcile.Deleted) || job.Reconcile.Deleted != 1 {
		t.Errorf("reconciliation PUT %s; want completed with deleted = %d (job record)", dump(rec), job.Reconcile.Deleted)
	}
	// Nothing but Ocean's fields: Port's ingest gets the body Ocean sends.
	var bodies []map[string]any
	h.admin("sync-metrics", &struct {
		Resyncs *[]map[string]any `json:"resyncs"`
	}{&bodies})
	var puts struct {
		Kinds []struct {
			SyncKindMetrics map[string]any `json:"syncKindMetrics"`
		} `json:"kinds"`
	}
	h.admin("sync-metrics", &puts)
	entries := []map[string]any{}
	for _, b := range bodies {
		for _, e := range b["syncKindsMetrics"].([]any) {
			entries = append(entries, e.(map[string]any))
		}
	}
	for _, p := range puts.Kinds {
		entries = append(entries, p.SyncKindMetrics)
	}
	for _, e := range entries {
		keys := slices.Sorted(maps.Keys(e))
		if !slices.Equal(keys, oceanSyncKindFields) {
			t.Errorf("sync metrics entry has keys %v; want Ocean's %v", keys, oceanSyncKindFields)
		}
	}
}

func TestHeartbeatsWhileAResyncRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 2, map[string]any{"dept": "d-0"})
	release := make(chan struct{})
	src.block["person"] = release
	beats := make(chan string)
	h.emu.InjectFault(emulator.Fault{Route: routeHeartbeat, Times: 2, Arrived: beats})
	done := make(chan error, 1)
	go func() {
		_, err := h.run(context.Background(), src, jobOpts{configure: func(c *resync.Config) {
			visible(logging.NewRedactor())(c)
			c.HeartbeatInterval = time.Millisecond
		}})
		done <- err
	}()
	// Two heartbeats arrive while the person kind is held.
	<-beats
	<-beats
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var hb struct {
		Heartbeats []struct {
			EventID string `json:"eventId"`
		} `json:"heartbeats"`
	}
	h.admin("heartbeats", &hb)
	var sm adminSyncMetrics
	h.admin("sync-metrics", &sm)
	if len(hb.Heartbeats) < 2 || len(sm.Resyncs) != 1 {
		t.Fatalf("%d heartbeats, %d resyncs announced; want at least 2 and 1", len(hb.Heartbeats), len(sm.Resyncs))
	}
	for _, b := range hb.Heartbeats {
		if b.EventID != sm.Resyncs[0].SyncKindsMetrics[0].EventID {
			t.Errorf("heartbeat for event %s; want the resync's %s", b.EventID, sm.Resyncs[0].SyncKindsMetrics[0].EventID)
		}
	}
}

// Port's UI routes failing or hanging cost the resync nothing: it
// completes, with the ingest still hung.
func TestFailingOrHungUIRoutesDoNotFailTheResync(t *testing.T) {
	t.Parallel()
	for _, hang := range []bool{false, true} {
		name := map[bool]string{false: "500", true: "hung"}[hang]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			deptPersons(h, mappingSpec{threshold: 1})
			src := newSource()
			src.add("dept", "d", 7, nil)
			src.add("person", "p", 7, map[string]any{"dept": "d-0"})
			hold := make(chan struct{})
			defer close(hold)
			if hang {
				h.emu.InjectFault(emulator.Fault{Route: routeSyncMetrics, Hold: hold})
			} else {
				for _, r := range []string{routeExamples, routeSyncMetrics, routeKindMetrics} {
					h.emu.InjectFault(emulator.Fault{Route: r, Status: http.StatusInternalServerError})
				}
			}
			job, err := h.run(context.Background(), src, jobOpts{configure: func(c *resync.Config) {
				visible(logging.NewRedactor())(c)
				// Hung: the drain deadline gives up. 500s: the drain ends
				// when the last report is answered; a short deadline
				// gave up the last PUT under -race on a loaded machine.
				c.VisibilityDrain = time.Minute
				if hang {
					c.VisibilityDrain = 20 * time.Millisecond
				}
			}})
			if err != nil || job.State != store.JobSucceeded {
				t.Fatalf("job %s: %v; want it to succeed while Port's UI routes fail", job.State, err)
			}
			h.wantCount("person", 7, "persons in Port = %d, want 7")
			examples, puts := h.requests(routeExamples), h.requests(routeKindMetrics)
			switch {
			case !hang && (examples != 2 || puts != 3):
				t.Errorf("%d example posts, %d kind PUTs; want each tried once (2, 3), answered 500", examples, puts)
			case hang && puts != 0:
				t.Errorf("%d kind PUTs got through behind the hung POST; want 0 (sent in order, given up at the drain deadline)", puts)
			}
		})
	}
}

// A resync stopped mid-way (superseded, or the daemon stopping) reports
// aborted for the kind it was in, the kinds it never reached and the
// reconciliation, as Ocean does: Port's UI shows none of them as running.
func TestAbortedResyncReportsEveryUnfinishedKindAborted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 2, map[string]any{"dept": "d-0"})
	src.block["dept"], src.started["dept"] = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-src.started["dept"]
		cancel()
	}()
	if _, err := h.run(ctx, src, jobOpts{configure: visible(logging.NewRedactor())}); err == nil {
		t.Fatal("the stopped resync reported success")
	}
	var sm adminSyncMetrics
	h.admin("sync-metrics", &sm)
	got := map[string]string{}
	for _, k := range sm.Kinds {
		got[k.KindIdentifier] = k.SyncKindMetrics.SyncState
	}
	want := map[string]string{"dept-0": "aborted", "person-1": "aborted", "__reconciliation__": "aborted"}
	if !maps.Equal(got, want) {
		t.Errorf("kind PUTs %v; want %v", got, want)
	}
}
