package resync_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"oceand/resync"
	"oceand/store"
)

// Bad input never deletes: mappings and answers an operator (or a broken
// proxy) can get wrong, each of which once deleted entities or reported
// work as done that was not.

// An identifier that gives a number, a list or null names no entity: the
// item is dropped, counted as such (not as filtered: only the selector
// filters), reported with the field, and since the entity it stands for is
// unknown, nothing of its blueprint is deleted.
func TestInvalidIdentifierIsDroppedAndDeletesNothing(t *testing.T) {
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

	m.resources[0].identifier = `if .id == "s-1" then 7 elif .id == "s-2" then [.id] elif .id == "s-3" then null else .id end`
	h.setMapping(m)
	src.items["team"] = src.items["team"][:2] // a team really retired
	job := h.mustRun(src, jobOpts{})

	k := job.Kinds[0]
	if k.Dropped != 3 || k.Filtered != 0 || k.Unchanged != 3 || k.State != store.KindCompleted {
		t.Errorf("service kind = %+v, want 3 dropped, none filtered, 3 unchanged", k)
	}
	if job.Totals.Dropped != 3 {
		t.Errorf("totals = %+v, want 3 dropped", job.Totals)
	}
	samples := strings.Join(k.Samples, "\n")
	if strings.Contains(samples, "gave null: gave") {
		t.Errorf("samples say an identifier that gave 7 gave null:\n%s", samples)
	}
	for _, want := range []string{`item "s-1"`, "identifier", "a number", "a list", "null"} {
		if !strings.Contains(samples, want) {
			t.Errorf("samples do not say %q:\n%s", want, samples)
		}
	}
	h.wantCount("service", 6, "services = %d, want 6: a dropped item's entity is unknown, nothing of its blueprint may be deleted")
	h.wantCount("team", 2, "teams = %d, want 2: the retired team is deleted")
	if !strings.Contains(job.Reconcile.SkippedReason, "service: ") || !strings.Contains(job.Reconcile.SkippedReason, "identifier") {
		t.Errorf("reason = %q, want the service blueprint held back naming the identifier", job.Reconcile.SkippedReason)
	}
	if br := h.report(job).Blueprint("service"); br.SkippedReason == "" || br.Deleted != 0 {
		t.Errorf("service report = %+v, want a reason and nothing deleted", br)
	}
}

// The deletion rate is Ocean's: stale entities over the entities the
// integration owned in Port before this resync (Port's listing), per
// blueprint; not over what the blueprint holds after the resync wrote its
// new entities.
func TestThresholdDividesByWhatWasOwnedBefore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.blueprint("service", false, nil)
	m := mappingSpec{threshold: 0.9, deleteDependents: true, resources: []resourceSpec{{kind: "service", blueprint: "service"}}}
	h.setMapping(m)
	src := newSource()
	src.pageSize = 100
	src.add("service", "s", 2000, nil)
	h.mustRun(src, jobOpts{})

	// A mapping change renames every entity; the source now has 1,500.
	src.items["service"] = src.items["service"][:1500]
	m.resources[0].identifier = `"svc-" + .id`
	h.setMapping(m)
	for _, dry := range []bool{true, false} {
		job := h.mustRun(src, jobOpts{dryRun: dry})
		h.wantCount("service", 3500-map[bool]int{true: 1500, false: 0}[dry], "services = %d")
		r := job.Reconcile
		if r.Deleted != 0 || r.Stale != 2000 {
			t.Errorf("dry run %v: reconcile = %+v, want 2000 stale, none deleted", dry, r)
		}
		if !strings.Contains(r.SkippedReason, "2000 of the 2000") || !strings.Contains(r.SkippedReason, "deletion rate 1.00 > entityDeletionThreshold 0.9") {
			t.Errorf("dry run %v: reason = %q, want the rate 2000/2000", dry, r.SkippedReason)
		}
		br := h.report(job).Blueprint("service")
		if br.DeletionRate != 1 || br.Listed != 2000 || br.Deleted != 0 {
			t.Errorf("dry run %v: service report: rate %v, listed %d, deleted %d; want rate 1 over 2000 listed, none deleted", dry, br.DeletionRate, br.Listed, br.Deleted)
		}
	}
}

// A kind none of whose entities could be written has failed: the job
// fails, and nothing is deleted anywhere.
func TestKindThatWroteNothingFails(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		edit func(m *mappingSpec)
		want string // in the kind's error
	}{
		{"selector gives no boolean", func(m *mappingSpec) { m.resources[1].query = `"yes"` }, "selector.query"},
		{"blueprint misspelled", func(m *mappingSpec) { m.resources[1].blueprint = "persn" }, `blueprint "persn" was not found`},
		{"relation targets missing", func(m *mappingSpec) {
			m.createMissing = false
			m.resources[1].relations = map[string]string{"department": "nowhere"}
		}, "404"},
		{"identifier invalid", func(m *mappingSpec) { m.resources[1].identifier = "null" }, "dropped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			m := deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
			src := newSource()
			src.add("dept", "d", 3, nil)
			src.add("person", "p", 8, map[string]any{"dept": "d-0", "nowhere": "x-1"})
			h.mustRun(src, jobOpts{})

			tt.edit(&m)
			h.setMapping(m)
			for _, it := range src.items["person"] {
				it["rev"] = float64(1) // every person changed: all must be sent
			}
			src.items["dept"] = src.items["dept"][:2] // a department retired
			job, err := h.run(context.Background(), src, jobOpts{})
			if !errors.Is(err, resync.ErrKindsFailed) || job.State != store.JobFailed {
				t.Fatalf("job = %s, err %v; want failed", job.State, err)
			}
			k := job.Kinds[1]
			if k.State != store.KindFailed || !strings.Contains(k.Error, "none of the entities of person-1 could be written") || !strings.Contains(k.Error, tt.want) {
				t.Errorf("person kind = %s: %q; want failed saying none could be written, with %q", k.State, k.Error, tt.want)
			}
			if job.Kinds[0].State != store.KindCompleted {
				t.Errorf("dept kind = %+v", job.Kinds[0])
			}
			h.wantCount("person", 8, "persons = %d, want 8")
			h.wantCount("dept", 3, "departments = %d, want 3: a failed kind deletes nothing")
		})
	}
}

// A blueprint none of whose upserts Port accepted (here: misspelled, in a
// resource that also writes another blueprint, so the kind did write
// something) is not reconciled, and neither is any blueprint its resource
// wrote before: the entities meant for the misspelled one are the real
// blueprint's, which must not look stale. When no index says which
// blueprints those were (a lost state dir, oceand replacing Ocean), no
// blueprint is reconciled.
func TestBlueprintRefusedAsAWholeHoldsBackItsResource(t *testing.T) {
	t.Parallel()
	for _, lost := range []bool{false, true} {
		t.Run(map[bool]string{false: "indexed", true: "state dir lost"}[lost], func(t *testing.T) {
			t.Parallel()
			testBlueprintRefusedAsAWhole(t, lost)
		})
	}
}

func testBlueprintRefusedAsAWhole(t *testing.T, lostState bool) {
	h := newHarness(t)
	h.blueprint("service", false, nil)
	h.blueprint("team", false, nil)
	h.blueprint("other", false, nil)
	config := func(second string) map[string]any {
		one := func(bp string) map[string]any {
			return map[string]any{"identifier": ".id", "title": ".name", "blueprint": fmt.Sprintf("%q", bp), "properties": map[string]any{"name": ".name"}}
		}
		return map[string]any{"deleteDependentEntities": true, "entityDeletionThreshold": 1, "resources": []any{
			map[string]any{"kind": "svc", "selector": map[string]any{"query": "true"},
				"port": map[string]any{"entity": map[string]any{"mappings": []any{one("team"), one(second)}}}},
			map[string]any{"kind": "other", "selector": map[string]any{"query": "true"},
				"port": map[string]any{"entity": map[string]any{"mappings": one("other")}}},
		}}
	}
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), config("service"), true); err != nil {
		t.Fatal(err)
	}
	src := newSource()
	src.add("svc", "s", 5, nil)
	src.add("other", "o", 3, nil)
	h.mustRun(src, jobOpts{})
	if lostState {
		// The state dir is lost (or oceand replaces an Ocean deployment):
		// no index says which blueprints the resource wrote before.
		st, err := store.Open(filepath.Join(t.TempDir(), "oceand.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h.st = st
	}

	if _, err := h.pc.PatchIntegrationConfig(context.Background(), config("servce"), true); err != nil {
		t.Fatal(err)
	}
	src.items["svc"] = src.items["svc"][:4]
	src.items["other"] = src.items["other"][:2]
	job := h.mustRun(src, jobOpts{})
	if k := job.Kinds[0]; k.State != store.KindCompleted || k.Failed != 4 || k.Unchanged+k.Upserted != 4 {
		t.Errorf("svc kind = %+v, want completed: 4 teams written or unchanged, 4 failed", k)
	}
	h.wantCount("service", 5, "services = %d, want all 5: their resource's entities were refused")
	h.wantCount("team", 5, "teams = %d, want 5: same resource")
	reason := job.Reconcile.SkippedReason
	if !lostState {
		h.wantCount("other", 2, "others = %d, want 2: another resource, reconciled")
	} else {
		// Without an index, the refused entities may belong to any
		// blueprint: none is reconciled.
		h.wantCount("other", 3, "others = %d, want 3: the refused entities' blueprint is unknown")
		if !strings.Contains(reason, "other: Port refused every entity svc-0 sent to blueprint servce") || !strings.Contains(reason, "no index") {
			t.Errorf("reason = %q, want other held back saying no index names the blueprint", reason)
		}
	}
	if !strings.Contains(reason, "service: Port refused every entity svc-0 sent to blueprint servce") {
		t.Errorf("reason = %q, want service held back naming the refused blueprint", reason)
	}
	if br := h.report(job).Blueprint("service"); !strings.Contains(br.SkippedReason, "servce") {
		t.Errorf("service report reason = %q", br.SkippedReason)
	}
}

// A resume whose mapping changed is a new chain: every kind is fetched,
// nothing the interrupted chain saw counts, and the job says why.
func TestResumeWithAnotherMappingIsANewChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := deptPersons(h, mappingSpec{threshold: 1, deleteDependents: true, createMissing: true})
	src := newSource()
	src.add("dept", "d", 2, nil)
	src.add("person", "p", 6, map[string]any{"dept": "d-0"})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	src.started["person"], src.block["person"] = started, make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	first, err := h.run(ctx, src, jobOpts{})
	if !errors.Is(err, context.Canceled) || first.Kinds[0].State != store.KindCompleted {
		t.Fatalf("interrupted job: %v, kinds %+v", err, first.Kinds)
	}
	delete(src.block, "person")
	delete(src.started, "person")

	m.resources[0].identifier = `"dept-" + .id`
	h.setMapping(m)
	resumed := h.mustRun(src, jobOpts{resumeOf: first})
	if n := src.fetchCount("dept"); n != 2 {
		t.Errorf("departments fetched %d times, want 2: a resume with another mapping fetches every kind", n)
	}
	if resumed.ChainID != resumed.ID || !strings.Contains(strings.Join(resumed.Reasons, ";"), "the mapping changed") {
		t.Errorf("resume: chain %d (job %d), reasons %q; want a new chain saying why", resumed.ChainID, resumed.ID, resumed.Reasons)
	}
	// d-1, written by the interrupted job, is stale now (d-0 stays: the
	// persons relate to it).
	if h.emu.Entity("dept", "dept-d-0") == nil || h.emu.Entity("dept", "d-1") != nil {
		t.Errorf("departments = %v, want the renamed ones and d-0", h.emu.Identifiers("dept"))
	}
}

// A resource whose blueprint is computed from the item and gives no valid
// blueprint for some items: which blueprint their entities belong to is
// unknown, so no blueprint is reconciled; the job says so.
func TestDynamicBlueprintDroppedHoldsBackEveryBlueprint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.blueprint("service", false, nil)
	h.blueprint("team", false, nil)
	config := func(blueprint string) map[string]any {
		one := func(bp string) map[string]any {
			return map[string]any{"identifier": ".id", "title": ".name", "blueprint": bp, "properties": map[string]any{"name": ".name"}}
		}
		return map[string]any{"deleteDependentEntities": true, "entityDeletionThreshold": 1, "resources": []any{
			map[string]any{"kind": "svc", "selector": map[string]any{"query": "true"},
				"port": map[string]any{"entity": map[string]any{"mappings": one(blueprint)}}},
			map[string]any{"kind": "team", "selector": map[string]any{"query": "true"},
				"port": map[string]any{"entity": map[string]any{"mappings": one(`"team"`)}}},
		}}
	}
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), config(`.bp`), true); err != nil {
		t.Fatal(err)
	}
	src := newSource()
	src.add("svc", "s", 6, map[string]any{"bp": "service"})
	src.add("team", "t", 3, nil)
	h.mustRun(src, jobOpts{})

	// The items of s-1 and s-2 lose their field; a team really retires.
	if _, err := h.pc.PatchIntegrationConfig(context.Background(), config(`if .id == "s-1" or .id == "s-2" then .missing else .bp end`), true); err != nil {
		t.Fatal(err)
	}
	src.items["team"] = src.items["team"][:2]
	job := h.mustRun(src, jobOpts{})
	if k := job.Kinds[0]; k.Dropped != 2 || k.State != store.KindCompleted {
		t.Errorf("svc kind = %+v, want 2 dropped", k)
	}
	h.wantCount("service", 6, "services = %d, want 6: the dropped items' blueprint is unknown")
	h.wantCount("team", 3, "teams = %d, want 3: the dropped items may have been teams")
	reason := job.Reconcile.SkippedReason
	for _, bp := range []string{"service", "team"} {
		if !strings.Contains(reason, bp+": an item of svc-0 gave no valid identifier or blueprint (port.entity.mappings.blueprint") ||
			!strings.Contains(reason, "computed from the item") {
			t.Errorf("reason = %q, want %s held back naming the blueprint field", reason, bp)
		}
	}
}
