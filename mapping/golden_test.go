package mapping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oceand/mapping"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenOutput is what a golden file holds: the mapping's warnings and, per
// kind of sample items, what each resource made of them.
type goldenOutput struct {
	Warnings []mapping.Problem        `json:"warnings"`
	Kinds    map[string]mapping.Trial `json:"kinds"`
}

// TestGolden maps sample items with a mapping and compares the result with
// testdata/golden/<case>.golden (go test -run TestGolden -update rewrites
// them). The fake case is Ocean's fake-integration mapping as the fake
// source ships it, with items the fake source emits (testdata/fake).
func TestGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		mapping string
		inputs  func(t *testing.T) map[string][]any
	}{
		{"fake", "../sources/fake/resources/port-app-config.yml", fakeItems},
		{"items-to-parse", "testdata/golden/items-to-parse.yml", inputsFile("testdata/golden/items-to-parse.json")},
		{"search-queries", "testdata/golden/search-queries.yml", inputsFile("testdata/golden/search-queries.json")},
		{"failing-fields", "testdata/golden/failing-fields.yml", inputsFile("testdata/golden/failing-fields.json")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(tc.mapping)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := mapping.ParseFile(filepath.Base(tc.mapping), src)
			if err != nil {
				t.Fatal(err)
			}
			m, err := mapping.Compile(cfg, mapping.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := goldenOutput{Warnings: cfg.Warnings(), Kinds: map[string]mapping.Trial{}}
			if out.Warnings == nil {
				out.Warnings = []mapping.Problem{}
			}
			for kind, items := range tc.inputs(t) {
				trial, err := m.Try(context.Background(), kind, items)
				if err != nil {
					t.Fatal(err)
				}
				out.Kinds[kind] = trial
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", "golden", tc.name+".golden")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what the mapping makes now:\n%s", file, lineDiff(string(want), string(got)))
			}
		})
	}
}

func inputsFile(path string) func(t *testing.T) map[string][]any {
	return func(t *testing.T) map[string][]any {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var in map[string][]any
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatal(err)
		}
		return in
	}
}

// fakeItems reads testdata/fake/<kind>.json: items as the fake source emits
// them for each kind of its mapping.
func fakeItems(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob("testdata/fake/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fake items: %v", err)
	}
	out := map[string][]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var items []any
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = items
	}
	return out
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out = append(out, fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl))
		}
	}
	return strings.Join(out, "\n")
}
