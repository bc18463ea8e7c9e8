package mapping_test

import (
	"fmt"
	"strings"
	"testing"

	"oceand/internal/memtest"
	"oceand/mapping"
)

// TestHostileMappingYAML reads mapping files that took 824 MB to several
// GB (issue 12): each is refused with its line before goccy/go-yaml parses
// it, in under 64 MB; files just inside the alias limit (whose aliases
// the source map follows) and the node limit are read in under 150 MB
// (measured: 15 and 47 MB). Not parallel: it measures the heap.
func TestHostileMappingYAML(t *testing.T) {
	var inside strings.Builder
	inside.WriteString("resources: []\njunk:\n  base: &b [" + strings.TrimSuffix(strings.Repeat("x, ", 999), ", ") + "]\n")
	for i := range 99 {
		fmt.Fprintf(&inside, "  u%d: *b\n", i)
	}
	var keys strings.Builder
	keys.WriteString("resources:\n  - kind: a\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"a\"'\n          properties:\n")
	for i := range 30_000 {
		fmt.Fprintf(&keys, "            p%d: .p\n", i)
	}
	tests := []struct {
		name, yaml string
		want       string // "" when the file is read
		bound      uint64
	}{
		{"deep flow list", "resources: " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n", "m.yml:1:111: YAML nested more than 100 levels deep; refused before parsing", 64 << 20},
		{"30000 properties", keys.String(), "m.yml:2009:13: a mapping with more than 2000 keys; refused before parsing", 64 << 20},
		{"aliases inside the limit", inside.String(), "", 150 << 20},
		{"a list just under the node limit", "resources: []\njunk:\n" + strings.Repeat("  - x\n", 49_990), "", 150 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			peak := memtest.Peak(func() { _, err = mapping.ParseFile("m.yml", []byte(tt.yaml)) })
			t.Logf("%d bytes, peak heap %.1f MB", len(tt.yaml), float64(peak)/1e6)
			if peak > tt.bound {
				t.Errorf("peak heap %.1f MB, want under %d MB", float64(peak)/1e6, tt.bound>>20)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestDuplicateKeyKeepsTheLast reads a mapping with a key written twice:
// the second value is used, as Ocean's PyYAML does, and placed at its own
// line; a warning names both lines.
func TestDuplicateKeyKeepsTheLast(t *testing.T) {
	t.Parallel()
	cfg, err := mapping.ParseFile("m.yml", []byte(`resources:
  - kind: a
    kind: b
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"a"'
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Resources[0].Kind; got != "b" {
		t.Errorf("kind = %q, want the second, b", got)
	}
	var warnings []string
	for _, w := range cfg.Warnings() {
		warnings = append(warnings, w.String())
	}
	want := `m.yml:3:5: key "kind" is written twice, on lines 2 and 3; the second is used, as Ocean (PyYAML) does`
	if len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings = %q, want [%q]", warnings, want)
	}
}
