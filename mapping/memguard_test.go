package mapping_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"oceand/internal/memtest"
	"oceand/mapping"
)

// TestJqMemoryBudget maps an item with jq programs that take gigabytes
// (issue 12: 1.5 GB in 3-10 s under the time limit): each is stopped when
// the heap passes the budget, the item fails naming the resource, kind,
// field and the budget, and the heap stays under five times the budget:
// a value that grows by doubling (gojq's stack, an array) can double once
// past the budget, with the old copy still live, before the watchdog's
// next look, and the collector lets garbage reach about the live heap.
func TestJqMemoryBudget(t *testing.T) {
	const budget = 32 << 20
	for _, tc := range []struct{ name, expr string }{
		{"a huge array", "[range(1e8)] | length"},
		{"endless recursion", "def f: 1 + f; f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := mapping.ParseYAML([]byte(`resources:
  - kind: service
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"service"'
          properties:
            bomb: '` + tc.expr + `'
`))
			if err != nil {
				t.Fatal(err)
			}
			m, err := mapping.Compile(cfg, mapping.Options{MemoryBudget: budget, ItemTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var mapErr error
			start := time.Now()
			peak := memtest.Peak(func() {
				_, mapErr = m.Resources()[0].Map(context.Background(), map[string]any{"id": "a"})
			})
			t.Logf("stopped after %v, peak heap %.1f MB", time.Since(start).Round(time.Millisecond), float64(peak)/1e6)
			var ie *mapping.ItemError
			if !errors.As(mapErr, &ie) || !ie.Memory {
				t.Fatalf("err = %v, want an *ItemError for the memory budget", mapErr)
			}
			want := "port.entity.mappings.properties.bomb: in resources[0] (kind service), jq exceeded the memory budget (32 MiB of heap) and was stopped"
			if got := mapErr.Error(); got != want {
				t.Errorf("err = %q, want %q", got, want)
			}
			if peak > 5*budget {
				t.Errorf("peak heap %.1f MB, want under %d MB", float64(peak)/1e6, 5*budget>>20)
			}
		})
	}
}

// TestJqMemoryBudgetLetsOrdinaryProgramsRun maps many items with gojq
// programs under a budget the heap never reaches: none fails.
func TestJqMemoryBudgetLetsOrdinaryProgramsRun(t *testing.T) {
	cfg, err := mapping.ParseYAML([]byte(`resources:
  - kind: service
    selector:
      query: (.id | length) > 0
    port:
      entity:
        mappings:
          identifier: .id | ascii_downcase
          blueprint: '"service"'
          properties:
            tags: '[range(100)] | map(tostring) | join(",")'
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Compile(cfg, mapping.Options{MemoryBudget: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]map[string]any, 2000)
	for i := range items {
		items[i] = map[string]any{"id": strings.Repeat("A", i%10+1)}
	}
	for i, r := range m.Resources()[0].MapItems(context.Background(), items) {
		if r.Err != nil || len(r.Entities) != 1 {
			t.Fatalf("item %d: %d entities, err %v", i, len(r.Entities), r.Err)
		}
	}
}
