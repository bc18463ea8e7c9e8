package fake_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"oceand/mapping"
	"oceand/sources"
	"oceand/sources/fake"
)

func fetchAll(t *testing.T, src sources.Source, kind string) ([]map[string]any, error) {
	t.Helper()
	var out []map[string]any
	err := src.Fetch(context.Background(), sources.Resource{Kind: kind}, func(items []map[string]any) error {
		out = append(out, items...)
		return nil
	})
	return out, err
}

func newSource(t *testing.T, config map[string]any) sources.Source {
	t.Helper()
	src, err := fake.Definition().New(config, sources.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestPersonsDependOnlyOnSeedDepartmentAndIndex(t *testing.T) {
	t.Parallel()
	small, err := fetchAll(t, newSource(t, map[string]any{"entity_amount": 30, "third_party_batch_size": 7}), fake.KindPerson)
	if err != nil {
		t.Fatal(err)
	}
	large, err := fetchAll(t, newSource(t, map[string]any{"entity_amount": 100, "third_party_batch_size": 1000, "third_party_latency_ms": 1}), fake.KindPerson)
	if err != nil {
		t.Fatal(err)
	}
	if len(small) != 5*30 || len(large) != 5*100 {
		t.Fatalf("persons = %d and %d, want 150 and 500 (5 departments)", len(small), len(large))
	}
	// Department by department, the first 30 persons are the same.
	for d := range 5 {
		for i := range 30 {
			if !reflect.DeepEqual(small[d*30+i], large[d*100+i]) {
				t.Fatalf("person %d of department %d differs with another amount or batch size:\n%v\n%v", i, d, small[d*30+i], large[d*100+i])
			}
		}
	}
	other, _ := fetchAll(t, newSource(t, map[string]any{"entity_amount": 30, "seed": 2}), fake.KindPerson)
	if reflect.DeepEqual(other[0], small[0]) {
		t.Error("another seed gave the same person")
	}
	ids := map[any]bool{}
	for _, p := range large {
		if ids[p["id"]] {
			t.Errorf("duplicate person id %v", p["id"])
		}
		ids[p["id"]] = true
		if bio := p["bio"].(string); len(bio) > 1024 || len(bio) < 900 || strings.HasPrefix(bio, " ") || strings.HasSuffix(bio, " ") {
			t.Errorf("bio of %v has %d bytes or loose spaces", p["id"], len(bio))
		}
	}
}

func TestRevisionChangesTheChangedShare(t *testing.T) {
	t.Parallel()
	base := map[string]any{"entity_amount": 2000, "single_department_run": true, "changed_percent": 10}
	before, _ := fetchAll(t, newSource(t, base), fake.KindPerson)
	next := map[string]any{"revision": 1}
	for k, v := range base {
		next[k] = v
	}
	after, _ := fetchAll(t, newSource(t, next), fake.KindPerson)
	changed := 0
	for i := range before {
		if before[i]["id"] != after[i]["id"] {
			t.Fatalf("person %d changed identity", i)
		}
		if !reflect.DeepEqual(before[i], after[i]) {
			changed++
		}
	}
	if changed < 150 || changed > 250 {
		t.Errorf("%d of 2000 persons changed, want about 10%%", changed)
	}
	s, err := fake.ParseSettings(next)
	if err != nil {
		t.Fatal(err)
	}
	if n := fake.New(s).ChangedPersons(); n != changed {
		t.Errorf("ChangedPersons = %d, but %d differ", n, changed)
	}
}

func TestFailKindFailsAfterItems(t *testing.T) {
	t.Parallel()
	src := newSource(t, map[string]any{"entity_amount": 50, "third_party_batch_size": 8, "fail_kind": fake.KindPerson, "fail_after_items": 21})
	items, err := fetchAll(t, src, fake.KindPerson)
	if err == nil || len(items) != 21 {
		t.Errorf("fetched %d items, err %v; want 21 and an error", len(items), err)
	}
	if _, err := fetchAll(t, src, fake.KindDepartment); err != nil {
		t.Errorf("another kind failed: %v", err)
	}
	if _, err := fetchAll(t, src, "fake-unicorn"); err == nil {
		t.Error("an unknown kind did not fail")
	}
}

func TestSettingsErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"entity_amount": "many"}, "integration.config.entity_amount"},
		{map[string]any{"changed_percent": 120}, "integration.config.changedPercent"},
		{map[string]any{"single_department_run": "perhaps"}, "integration.config.singleDepartmentRun"},
	} {
		if _, err := fake.ParseSettings(tt.config); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSettings(%v) = %v, want an error naming %s", tt.config, err, tt.want)
		}
	}
}

// The shipped mapping turns every item of every kind into an entity of a
// shipped blueprint, using only properties and relations it defines.
func TestDefaultResourcesFitTogether(t *testing.T) {
	t.Parallel()
	def := fake.Definition()
	var blueprints []map[string]any
	if err := json.Unmarshal(def.Defaults.Blueprints, &blueprints); err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]any{}
	for _, bp := range blueprints {
		byID[bp["identifier"].(string)] = bp
	}
	cfg, err := mapping.ParseYAML(def.Defaults.PortAppConfig)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Compile(cfg, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(t, map[string]any{"entity_amount": 3})
	kinds := map[string]bool{}
	for _, rm := range m.Resources() {
		kinds[rm.Resource.Kind] = true
		items, err := fetchAll(t, src, rm.Resource.Kind)
		if err != nil || len(items) == 0 {
			t.Fatalf("%s: %d items, %v", rm.Resource.Kind, len(items), err)
		}
		for _, item := range items {
			res, err := rm.Map(context.Background(), item)
			if err != nil || len(res.Entities) != 1 || len(res.Misconfigurations) > 0 {
				t.Fatalf("%s: mapping %v: %+v, %v", rm.Resource.Kind, item["id"], res, err)
			}
			e := res.Entities[0]
			bp := byID[e.Blueprint()]
			if bp == nil {
				t.Fatalf("%s maps to unknown blueprint %s", rm.Resource.Kind, e.Blueprint())
			}
			props := bp["schema"].(map[string]any)["properties"].(map[string]any)
			for p := range e["properties"].(map[string]any) {
				if props[p] == nil {
					t.Errorf("%s: property %s is not in blueprint %s", rm.Resource.Kind, p, e.Blueprint())
				}
			}
			rels, _ := bp["relations"].(map[string]any)
			for r := range asMap(e["relations"]) {
				if rels[r] == nil {
					t.Errorf("%s: relation %s is not in blueprint %s", rm.Resource.Kind, r, e.Blueprint())
				}
			}
		}
	}
	for _, k := range fake.Kinds() {
		if !kinds[k] {
			t.Errorf("kind %s is not in the default mapping", k)
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
