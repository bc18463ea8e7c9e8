package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"oceand/config"
	"oceand/internal/memtest"
)

// TestPortDocumentedConfigWithDuplicateKey loads a config.yaml shaped like
// the one in Port's documentation, whose eventListener.type is written
// twice: Ocean (PyYAML) keeps the second, so does oceand, with a warning
// naming both lines. Before: "mapping key "type" already defined".
func TestPortDocumentedConfigWithDuplicateKey(t *testing.T) {
	t.Parallel()
	file, err := filepath.Abs(filepath.Join("testdata", "duplicate-type", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(config.LoadOptions{
		ConfigFile: file,
		Environ:    []string{"PORT_CLIENT_ID=id-value", "PORT_CLIENT_SECRET=secret-value"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.EventListener.Type != "POLLING" {
		t.Errorf("eventListener.type = %q, want the second one, POLLING", s.EventListener.Type)
	}
	want := `config.yaml:10:3: key "type" is written twice, on lines 9 and 10; the second is used, as Ocean (PyYAML) does`
	if got := problemLines(s.Warnings()); !slices.Contains(got, want) {
		t.Errorf("warnings:\n  %s\nwant among them:\n  %s", strings.Join(got, "\n  "), want)
	}
}

// TestHostileYAMLIsRefusedWithTheLine reads config.yaml files of a few
// bytes to a megabyte that took 824 MB to 1.9 GB of heap (issue 12): each
// is refused, with the line, before goccy/go-yaml parses it, and reading
// it takes under 64 MB. Files just inside the alias and node limits are
// read in under 150 MB (measured: 26 and 49 MB).
func TestHostileYAMLIsRefusedWithTheLine(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("junk:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&bomb, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	var keys strings.Builder
	keys.WriteString("junk:\n")
	for i := range 30_000 {
		fmt.Fprintf(&keys, "  k%d: v\n", i)
	}
	var inside strings.Builder
	inside.WriteString("junk:\n  base: &b [" + strings.TrimSuffix(strings.Repeat("x, ", 999), ", ") + "]\n")
	for i := range 99 {
		fmt.Fprintf(&inside, "  u%d: *b\n", i)
	}
	tests := []struct {
		name, yaml string
		want       string // "" when the file is read
		bound      uint64
	}{
		{"alias bomb", bomb.String(), "config.yaml:7:12: aliases expand to more than 100000 nodes; refused before decoding", 64 << 20},
		{"deep flow list", "junk: " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n", "config.yaml:1:106: YAML nested more than 100 levels deep; refused before parsing", 64 << 20},
		{"a mapping of 30000 keys", keys.String(), "config.yaml:2002:3: a mapping with more than 2000 keys; refused before parsing", 64 << 20},
		{"aliases inside the limit", inside.String(), "", 150 << 20},
		{"a list just under the node limit", "junk:\n" + strings.Repeat("  - x\n", 49_990), "", 150 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "config.yaml"), tt.yaml)
			var err error
			peak := memtest.Peak(func() { _, err = config.Read(config.LoadOptions{Dir: dir}) })
			t.Logf("%d bytes, peak heap %.1f MB", len(tt.yaml), float64(peak)/1e6)
			if peak > tt.bound {
				t.Errorf("peak heap %.1f MB, want under %d MB", float64(peak)/1e6, tt.bound>>20)
			}
			got := problemLines(config.ProblemsOf(err))
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("refused: %v", got)
				}
				return
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), tt.want)
			}
		})
	}
}

// TestHugeConfigFileIsNotRead gives config.Read a 64 MiB (sparse)
// config.yaml: it is refused from its size, its bytes never read (before:
// os.ReadFile took them all into memory, whatever the size).
func TestHugeConfigFileIsNotRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, "")
	if err := os.Truncate(path, 64<<20); err != nil {
		t.Fatal(err)
	}
	var err error
	peak := memtest.Peak(func() { _, err = config.Read(config.LoadOptions{Dir: dir}) })
	want := []string{"config.yaml: the file is 64.0 MiB, larger than the 1.0 MiB a YAML file may be; refused before parsing"}
	if got := problemLines(config.ProblemsOf(err)); !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if peak > 8<<20 {
		t.Errorf("peak heap %.1f MB, want under 8 MB", float64(peak)/1e6)
	}
}
