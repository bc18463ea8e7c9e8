package resync_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"oceand/resync"
	"oceand/store"
)

const (
	routeBulk   = "POST /v1/blueprints/{bp}/entities/bulk"
	routeDelete = "POST /v1/blueprints/{bp}/bulk/entities/delete"
)

// deptPersons is the usual setup: departments, and persons related to them
// (through a required relation if required). It returns the mapping set.
func deptPersons(h *harness, m mappingSpec, required ...bool) mappingSpec {
	h.blueprint("dept", false, nil)
	h.blueprint("person", len(required) > 0 && required[0], map[string]string{"department": "dept"})
	m.resources = []resourceSpec{
		{kind: "dept", blueprint: "dept"},
		{kind: "person", blueprint: "person", relations: map[string]string{"department": "dept"}},
	}
	h.setMapping(m)
	return m
}

func TestPartialFetchFailsTheJobAndDeletesNothing(t *testing.T) {
	t.Parallel()
	for _, failing := range []string{"dept", "person"} {
		t.Run("failing "+failing, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
			src := newSource()
			src.add("dept", "d", 4, nil)
			src.add("person", "p", 20, map[string]any{"dept": "d-0"})
			h.mustRun(src, jobOpts{})

			// The third-party API breaks part way: what was not fetched
			// must not look stale.
			src.failAfter[failing] = 2
			job, err := h.run(context.Background(), src, jobOpts{})
			if !errors.Is(err, resync.ErrKindsFailed) {
				t.Fatalf("err = %v, want ErrKindsFailed", err)
			}
			if n := h.requests(routeDelete); n != 0 {
				t.Errorf("%d bulk deletes after a failed fetch", n)
			}
			h.wantCount("person", 20, "persons in Port = %d, want 20")
			h.wantCount("dept", 4, "departments in Port = %d, want 4")
			if job.Reconcile.State != store.ReconcileSkipped || !strings.Contains(job.Reconcile.SkippedReason, failing+"-") {
				t.Errorf("reconcile = %+v, want skipped naming the failed kind", job.Reconcile)
			}
			for _, k := range job.Kinds {
				want := store.KindCompleted
				if k.Kind == failing {
					want = store.KindFailed
				}
				if k.State != want {
					t.Errorf("kind %s state = %s, want %s (error %q)", k.Kind, k.State, want, k.Error)
				}
			}
		})
	}
}

func TestThresholdIsPerBlueprint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.blueprint("team", false, nil)
	h.blueprint("service", false, nil)
	h.setMapping(mappingSpec{threshold: 0.5, deleteDependents: true, resources: []resourceSpec{
		{kind: "team", blueprint: "team"}, {kind: "service", blueprint: "service"},
	}})
	src := newSource()
	src.add("team", "t", 10, nil)
	src.add("service", "s", 10, nil)
	h.mustRun(src, jobOpts{})

	// 9 of 10 teams vanish (a source returning almost nothing), 2 of 10
	// services are retired.
	src.items["team"] = src.items["team"][:1]
	src.items["service"] = src.items["service"][:8]
	job := h.mustRun(src, jobOpts{})
	h.wantCount("team", 10, "teams in Port = %d, want all 10 kept (90%% stale > 50%%)")
	h.wantCount("service", 8, "services in Port = %d, want 8 (2 stale deleted)")
	r := job.Reconcile
	if r.State != store.ReconcileCompleted || r.Stale != 11 || r.Deleted != 2 {
		t.Errorf("reconcile = %+v, want completed, 11 stale, 2 deleted", r)
	}
	if !strings.Contains(r.SkippedReason, "team: 9 of the 10 entities it owned before this resync are stale (deletion rate 0.90 > entityDeletionThreshold 0.5)") {
		t.Errorf("reason = %q", r.SkippedReason)
	}
	rep := h.report(job)
	if tr := rep.Blueprint("team"); tr.Deleted != 0 || tr.Stale != 9 || tr.Owned != 10 || tr.SkippedReason == "" {
		t.Errorf("team report = %+v", tr)
	}
	if sr := rep.Blueprint("service"); sr.Deleted != 2 || len(sr.DeleteIDs) != 2 || sr.SkippedReason != "" {
		t.Errorf("service report = %+v", sr)
	}
	// The deleted entities left the index; the kept ones are still there.
	counts, err := h.st.CountEntities()
	if err != nil {
		t.Fatal(err)
	}
	if counts["service"] != 8 || counts["team"] != 10 {
		t.Errorf("index counts = %v", counts)
	}
}

func TestEntityDeletedByHandIsRestored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 0.9, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 30, map[string]any{"dept": "d-1"})
	h.mustRun(src, jobOpts{})

	if !h.emu.DeleteEntity("person", "p-7") || !h.emu.DeleteEntity("person", "p-20") {
		t.Fatal("could not delete by hand")
	}
	h.emu.ResetCounters()
	job := h.mustRun(src, jobOpts{})
	for _, id := range []string{"p-7", "p-20"} {
		if h.emu.Entity("person", id) == nil {
			t.Errorf("%s was not restored", id)
		}
	}
	h.wantCount("person", 30, "persons in Port = %d, want 30")
	if rep := h.report(job); rep.Restored != 2 {
		t.Errorf("restored = %d, want 2", rep.Restored)
	}
	if job.Totals.Upserted != 2 {
		t.Errorf("upserted = %d, want the 2 restored", job.Totals.Upserted)
	}

	// And the resync after that has nothing to do.
	h.emu.ResetCounters()
	job = h.mustRun(src, jobOpts{})
	if n := h.requests(routeBulk); n != 0 || job.Totals.Upserted != 0 {
		t.Errorf("third resync: %d bulk requests, %d upserted", n, job.Totals.Upserted)
	}
}

func TestRelationTargetsSurvive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 3, nil)
	src.add("person", "p", 5, map[string]any{"dept": "d-0"})
	src.add("person", "q", 5, map[string]any{"dept": "d-1"})
	h.mustRun(src, jobOpts{})

	// The department kind now filters d-0 and d-2 out; persons still point
	// at d-0, nothing points at d-2.
	m.resources = []resourceSpec{
		{kind: "dept", blueprint: "dept", query: `.id == "d-1"`},
		{kind: "person", blueprint: "person", relations: map[string]string{"department": "dept"}},
	}
	h.setMapping(m)
	job := h.mustRun(src, jobOpts{})
	if h.emu.Entity("dept", "d-0") == nil {
		t.Error("d-0, which kept persons relate to, was deleted")
	}
	if h.emu.Entity("dept", "d-2") != nil {
		t.Error("d-2, stale and unrelated, was kept")
	}
	h.wantCount("person", 10, "persons = %d, want 10")
	if dr := h.report(job).Blueprint("dept"); dr.Stale != 2 || dr.Protected != 1 || dr.Deleted != 1 {
		t.Errorf("dept report = %+v", dr)
	}
}

func TestDependentsAreDeletedFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A required relation: Port refuses to delete a department that still
	// has persons unless delete_dependents is set, and it is not.
	deptPersons(h, mappingSpec{threshold: 1, deleteDependents: false, createMissing: true}, true)
	src := newSource()
	src.add("dept", "keep", 1, nil)
	src.add("dept", "gone", 1, nil)
	src.add("person", "k", 3, map[string]any{"dept": "keep-0"})
	src.add("person", "g", 150, map[string]any{"dept": "gone-0"})
	h.mustRun(src, jobOpts{})

	src.items["dept"] = src.items["dept"][:1]
	src.items["person"] = src.items["person"][:3]
	job := h.mustRun(src, jobOpts{})
	if h.emu.Entity("dept", "gone-0") != nil {
		t.Error("the stale department is still in Port")
	}
	h.wantCount("person", 3, "persons = %d, want the 3 kept")
	for _, status := range h.reqs.statusesOf("POST /v1/blueprints/dept/bulk/entities/delete") {
		if status != http.StatusOK {
			t.Errorf("a department delete was refused with %d: dependents were not deleted first", status)
		}
	}
	if n := len(h.reqs.statusesOf("POST /v1/blueprints/person/bulk/entities/delete")); n != 2 {
		t.Errorf("%d person bulk deletes, want 2 (150 ids in batches of 100)", n)
	}
	if job.Reconcile.Deleted != 151 {
		t.Errorf("reconcile = %+v, want 151 deleted", job.Reconcile)
	}
}

func TestEmptyMappingDeletesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 5, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})

	h.setMapping(mappingSpec{threshold: 1, deleteDependents: true})
	job := h.mustRun(src, jobOpts{})
	if n := h.requests(routeDelete); n != 0 {
		t.Errorf("%d bulk deletes with an empty mapping", n)
	}
	if h.emu.EntityCount("person") != 5 || h.emu.EntityCount("dept") != 2 {
		t.Error("entities were deleted")
	}
	if job.State != store.JobSucceeded || job.Reconcile.State != store.ReconcileSkipped {
		t.Errorf("job = %s, reconcile %+v", job.State, job.Reconcile)
	}
}

func TestItemErrorsAreCountedAndTheirEntitiesKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: false})
	src := newSource()
	src.add("dept", "d", 1, nil)
	src.add("person", "p", 12, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})

	// p-3 now relates to a department Port does not have (a 207 item
	// error, createMissingRelatedEntities is off); p-5's selector does not
	// yield a boolean; p-11 is retired.
	src.items["person"][3]["dept"] = "nowhere"
	src.items["person"][5]["bad"] = true
	src.items["person"] = src.items["person"][:11]
	m.resources[1].query = `if .bad then "maybe" else true end`
	h.setMapping(m)
	job := h.mustRun(src, jobOpts{})

	k := job.Kinds[1]
	if k.State != store.KindCompleted || k.Failed != 2 {
		t.Fatalf("person kind = %+v, want completed with 2 failed", k)
	}
	samples := strings.Join(k.Samples, "\n")
	if !strings.Contains(samples, `item "p-5": selector.query`) || !strings.Contains(samples, "person/p-3: 404") {
		t.Errorf("samples do not name the failures:\n%s", samples)
	}
	for _, id := range []string{"p-3", "p-5"} {
		if h.emu.Entity("person", id) == nil {
			t.Errorf("%s failed this resync and was deleted as stale", id)
		}
	}
	if h.emu.Entity("person", "p-11") != nil {
		t.Error("p-11 is stale and was kept")
	}
	// p-3 was not accepted: the next resync sends it again (and Port
	// refuses it again); the other persons are unchanged.
	h.emu.ResetCounters()
	job = h.mustRun(src, jobOpts{})
	if k := job.Kinds[1]; k.Failed != 2 || k.Unchanged != 9 || h.requests(routeBulk) != 1 {
		t.Errorf("third resync: person kind %+v, %d bulk requests; want p-3 sent again", k, h.requests(routeBulk))
	}
}

func TestUnidentifiableItemTaintsItsBlueprint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.blueprint("service", false, nil)
	h.blueprint("team", false, nil)
	m := mappingSpec{threshold: 1, deleteDependents: true, resources: []resourceSpec{
		{kind: "service", blueprint: "service"}, {kind: "team", blueprint: "team"},
	}}
	h.setMapping(m)
	src := newSource()
	src.add("service", "s", 6, nil)
	src.add("team", "t", 3, nil)
	h.mustRun(src, jobOpts{})

	// An itemsToParse that fails for one item: the entities it stands for
	// are unknown, so no service may be deleted; teams are unaffected.
	cfg := m.config()
	svc := cfg["resources"].([]any)[0].(map[string]any)
	svc["port"].(map[string]any)["itemsToParse"] = `if .id == "s-2" then "oops" else [.] end`
	// (Without this the top-level transform, del(.), leaves nothing of
	// every item: every item fails, and so does the kind.)
	svc["port"].(map[string]any)["itemsToParseTopLevelTransform"] = false
	svc["port"].(map[string]any)["entity"].(map[string]any)["mappings"].(map[string]any)["identifier"] = ".item.id"
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	src.items["service"] = src.items["service"][:4]
	src.items["team"] = src.items["team"][:2]
	job := h.mustRun(src, jobOpts{})
	h.wantCount("service", 6, "services = %d, want 6: an unmapped item taints the blueprint")
	h.wantCount("team", 2, "teams = %d, want 2")
	if !strings.Contains(job.Reconcile.SkippedReason, "service: an item of service-0 could not be mapped") {
		t.Errorf("reason = %q", job.Reconcile.SkippedReason)
	}
}

// An item whose itemsToParse gives null stands for no entity: Ocean skips
// it with a warning. It is counted as filtered and sampled, and it does not
// fail the kind or keep its blueprint from being reconciled.
func TestNullItemsToParseIsSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.blueprint("service", false, nil)
	m := mappingSpec{threshold: 1, deleteDependents: true, resources: []resourceSpec{{kind: "service", blueprint: "service"}}}
	h.setMapping(m)
	src := newSource()
	src.add("service", "s", 4, nil)
	h.mustRun(src, jobOpts{})

	cfg := m.config()
	svc := cfg["resources"].([]any)[0].(map[string]any)
	svc["port"].(map[string]any)["itemsToParse"] = ".endpoints"
	svc["port"].(map[string]any)["entity"].(map[string]any)["mappings"].(map[string]any)["identifier"] = ".item.url"
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	for _, it := range src.items["service"] {
		it["endpoints"] = []any{map[string]any{"url": "https://" + it["id"].(string)}}
	}
	src.items["service"][1]["endpoints"] = nil
	job := h.mustRun(src, jobOpts{})
	k := job.Kinds[0]
	if k.Filtered != 1 || k.Failed != 0 || k.Upserted != 3 || k.State != store.KindCompleted {
		t.Errorf("kind %+v; want 3 upserted, the null item filtered, nothing failed", k)
	}
	if !slices.ContainsFunc(k.Samples, func(s string) bool { return strings.Contains(s, `item "s-1"`) }) {
		t.Errorf("samples %q do not name item s-1", k.Samples)
	}
	// The services are now named by URL; s-1 stands for none, and the
	// kind completed, so reconciliation deletes the four old ones.
	h.wantCount("service", 3, "services = %d, want 3")
}

// Each kind and the reconciliation record when they ran, so an operator
// sees where a slow resync spends its time.
func TestKindsAndReconciliationAreTimed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 5, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})

	var mu sync.Mutex
	clock := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tick := func() time.Time { // one second per reading
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	job := h.mustRun(src, jobOpts{now: tick})
	var last time.Time
	for _, k := range job.Kinds {
		if k.StartedAt.IsZero() || !k.FinishedAt.After(k.StartedAt) || k.StartedAt.Before(last) {
			t.Errorf("kind %s ran %v to %v, after the previous one ended at %v", k.Kind, k.StartedAt, k.FinishedAt, last)
		}
		last = k.FinishedAt
	}
	r := job.Reconcile
	if r.StartedAt.Before(last) || !r.FinishedAt.After(r.StartedAt) || r.Duration(time.Time{}) != r.FinishedAt.Sub(r.StartedAt) {
		t.Errorf("reconciliation ran %v to %v, after the last kind ended at %v", r.StartedAt, r.FinishedAt, last)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 10, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})
	before, err := h.st.CountEntities()
	if err != nil {
		t.Fatal(err)
	}

	src.items["person"][1]["rev"] = float64(1)                 // changed
	src.add("person", "new", 1, map[string]any{"dept": "d-0"}) // new
	src.items["dept"] = src.items["dept"][:1]                  // d-1 retired
	src.items["person"] = append(src.items["person"][:8], src.items["person"][10:]...)
	h.emu.DeleteEntity("person", "p-2") // missing in Port
	h.emu.ResetCounters()
	job := h.mustRun(src, jobOpts{dryRun: true})

	for route, n := range h.emu.Requests() {
		if strings.HasPrefix(route, "POST /v1/blueprints/{bp}") || strings.HasPrefix(route, "PATCH") {
			t.Errorf("a dry run sent %d %s", n, route)
		}
	}
	after, _ := h.st.CountEntities()
	if dump(after) != dump(before) {
		t.Errorf("index changed: %v -> %v", before, after)
	}
	rep := h.report(job)
	if !rep.DryRun {
		t.Error("report is not marked dry run")
	}
	pr := rep.Blueprint("person")
	if pr.Upserts != 2 || pr.Restores != 1 || pr.Deleted != 2 || strings.Join(pr.DeleteIDs, ",") != "p-8,p-9" {
		t.Errorf("person plan = %+v, want 2 upserts (p-1, new-0), 1 restore (p-2), delete p-8 and p-9", pr)
	}
	if dr := rep.Blueprint("dept"); dr.Deleted != 1 || dr.DeleteIDs[0] != "d-1" {
		t.Errorf("dept plan = %+v, want d-1 deleted", dr)
	}
	if job.Reconcile.Deleted != 0 || !strings.Contains(job.Reconcile.SkippedReason, "dry run") {
		t.Errorf("reconcile = %+v", job.Reconcile)
	}

	// The real run afterwards does what the plan said.
	job = h.mustRun(src, jobOpts{})
	if job.Reconcile.Deleted != 3 || job.Totals.Upserted != 3 {
		t.Errorf("real run: reconcile %+v, totals %+v", job.Reconcile, job.Totals)
	}
}

func TestResumeSkipsCompletedKindsAndKeepsWhatTheChainWrote(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 10, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})

	// The next resync changes everything, and is interrupted while it
	// fetches persons: departments are complete.
	for _, it := range append(src.items["dept"], src.items["person"]...) {
		it["rev"] = float64(1)
	}
	src.items["dept"] = src.items["dept"][:1]
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	src.started["person"], src.block["person"] = started, make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	first, err := h.run(ctx, src, jobOpts{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted job: %v", err)
	}
	if first.Kinds[0].State != store.KindCompleted || first.Kinds[1].State == store.KindCompleted {
		t.Fatalf("interrupted job kinds = %+v", first.Kinds)
	}
	delete(src.block, "person")
	delete(src.started, "person")

	h.emu.ResetCounters()
	resumed := h.mustRun(src, jobOpts{resumeOf: first})
	if n := src.fetchCount("dept"); n != 2 {
		t.Errorf("departments fetched %d times, want 2: the resume must skip the completed kind", n)
	}
	if resumed.Kinds[0].State != store.KindCompleted || resumed.Kinds[0].Upserted != 1 {
		t.Errorf("resumed dept kind = %+v, want the interrupted job's completed progress", resumed.Kinds[0])
	}
	if resumed.Kinds[1].Upserted != 10 {
		t.Errorf("resumed person kind = %+v, want 10 upserted", resumed.Kinds[1])
	}
	// d-0 was written by the interrupted job of this chain: kept; d-1 is
	// stale: deleted. The chain began with the first job.
	if h.emu.Entity("dept", "d-0") == nil || h.emu.Entity("dept", "d-1") != nil {
		t.Errorf("departments in Port = %v, want only d-0", h.emu.Identifiers("dept"))
	}
	if resumed.Reconcile.Deleted != 1 || resumed.ChainID != first.ID {
		t.Errorf("reconcile = %+v, chain %d", resumed.Reconcile, resumed.ChainID)
	}
}

// Unchanged items skip most of the mapping (the item fast path); anything
// that can change the entities must defeat it.
func TestWhatChangesEntitiesIsResent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		change func(m map[string]any)
		want   int64 // upserts of the second resync
	}{
		{"nothing", func(map[string]any) {}, 0},
		{"a property's expression", func(m map[string]any) {
			props(m)["name"] = ".name | ascii_upcase"
		}, 6},
		{"the merge flag", func(m map[string]any) { m["enableMergeEntity"] = false }, 6},
		{"a mapping that reads the clock", func(m map[string]any) {
			props(m)["rev"] = "now"
		}, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.blueprint("service", false, nil)
			spec := mappingSpec{threshold: 1, deleteDependents: true, resources: []resourceSpec{{kind: "service", blueprint: "service"}}}
			cfg := spec.config()
			if tt.name == "a mapping that reads the clock" {
				tt.change(cfg)
			}
			if _, err := h.pc.PatchIntegrationConfig(context.Background(), cfg, true); err != nil {
				t.Fatal(err)
			}
			src := newSource()
			src.add("service", "s", 6, nil)
			h.mustRun(src, jobOpts{})
			tt.change(cfg)
			if _, err := h.pc.PatchIntegrationConfig(context.Background(), cfg, true); err != nil {
				t.Fatal(err)
			}
			job := h.mustRun(src, jobOpts{})
			if job.Totals.Upserted != tt.want || job.Totals.Upserted+job.Totals.Unchanged != 6 {
				t.Errorf("second resync totals = %+v, want %d upserted", job.Totals, tt.want)
			}
			if tt.name == "a property's expression" && h.emu.Entity("service", "s-1")["properties"].(map[string]any)["name"] != "S 1" {
				t.Errorf("s-1 = %v", h.emu.Entity("service", "s-1"))
			}
		})
	}
}

func props(cfg map[string]any) map[string]any {
	res := cfg["resources"].([]any)[0].(map[string]any)
	return res["port"].(map[string]any)["entity"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
}

// Unchanged items are recognised from the pages of the last resync (or,
// when the identity is plain paths, by evaluating it again); when the
// source's pages shift, the diff stays exact.
func TestShiftedPagesStillDiffExactly(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		identifier string
		pages      bool // item pages are kept
	}{
		{".id", false},
		{".id | tostring", true},
	} {
		t.Run(tt.identifier, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.blueprint("service", false, nil)
			h.setMapping(mappingSpec{threshold: 1, deleteDependents: true, resources: []resourceSpec{{kind: "service", blueprint: "service", identifier: tt.identifier}}})
			src := newSource()
			src.add("service", "s", 10, nil)
			h.mustRun(src, jobOpts{})
			if page, err := h.st.ItemPage(0, 0); err != nil || (page != nil) != tt.pages {
				t.Fatalf("item page 0 stored: %v (%v), want %v", page != nil, err, tt.pages)
			}

			src.items["service"][6]["rev"] = float64(1)
			src.items["service"] = append([]map[string]any{{"id": "first", "name": "First", "rev": float64(0)}}, src.items["service"]...)
			job := h.mustRun(src, jobOpts{})
			if job.Totals.Upserted != 2 || job.Totals.Unchanged != 9 {
				t.Errorf("totals = %+v, want 2 upserted (first, s-6) and 9 unchanged", job.Totals)
			}
			if h.emu.Entity("service", "s-6")["properties"].(map[string]any)["rev"] != 1.0 {
				t.Errorf("s-6 = %v", h.emu.Entity("service", "s-6"))
			}
			job = h.mustRun(src, jobOpts{})
			if job.Totals.Upserted != 0 || job.Totals.Unchanged != 11 {
				t.Errorf("third resync totals = %+v, want all 11 unchanged", job.Totals)
			}
		})
	}
}

// Without delete_dependents Port refuses to delete an entity a kept entity
// still requires; the job says so and deletes the rest.
func TestRefusedDeletesAreReported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deptPersons(h, mappingSpec{threshold: 1}, true)
	src := newSource()
	src.add("dept", "d", 3, nil)
	src.add("person", "p", 2, map[string]any{"dept": "d-0"})
	h.mustRun(src, jobOpts{})

	src.items["dept"] = src.items["dept"][1:] // d-0 leaves the source, its persons stay
	src.items["dept"] = src.items["dept"][:1] // and d-2 too
	job := h.mustRun(src, jobOpts{})
	if h.emu.Entity("dept", "d-0") == nil || h.emu.EntityCount("person") != 2 {
		t.Fatalf("a required target or its dependents were deleted: depts %v, %d persons", h.emu.Identifiers("dept"), h.emu.EntityCount("person"))
	}
	if h.emu.Entity("dept", "d-2") != nil {
		t.Error("d-2 is stale and was kept")
	}
	dr := h.report(job).Blueprint("dept")
	if dr.Deleted != 1 || dr.DeleteFailed != 1 || !strings.Contains(job.Reconcile.SkippedReason, "Port refused to delete d-0") {
		t.Errorf("dept report = %+v, reason %q", dr, job.Reconcile.SkippedReason)
	}
}
