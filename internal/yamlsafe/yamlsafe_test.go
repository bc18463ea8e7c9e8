package yamlsafe_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"oceand/internal/memtest"
	"oceand/internal/yamlsafe"
)

// aliasBomb is a billion-laughs document: levels anchors, each a list of
// nine aliases to the one before, under an unknown key.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("port:\n  baseUrl: https://api.getport.io\njunk:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	return b.String()
}

// indented is n lines of text, each indented one space more.
func indented(n int, text string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + text + "\n")
	}
	return b.String()
}

func lines(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// Bombs are inputs of a few bytes to a megabyte that would take goccy (or
// the readers walking its tree) hundreds of megabytes to seconds.
var bombs = []struct {
	name, yaml string
	line       int
	message    string
}{
	{"alias bomb", aliasBomb(7), 9, "aliases expand to more than 100000 nodes"},
	{"deep flow list", "junk: " + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + "\n", 1, "YAML nested more than 100 levels deep"},
	{"deep flow map", "junk: " + strings.Repeat("{a: ", 20_000) + "1" + strings.Repeat("}", 20_000) + "\n", 1, "YAML nested more than 100 levels deep"},
	{"deep block", indented(1000, "k:"), 101, "YAML nested more than 100 levels deep"},
	{"deep block list", indented(1000, "-"), 101, "YAML nested more than 100 levels deep"},
	{"many keys", "junk:\n" + lines(30_000, "  k%d: v\n"), 2002, "a mapping with more than 2000 keys"},
	{"many large mappings", lines(30, "m%d:\n") + "", 0, ""}, // replaced below
	{"many documents", "a: 1\n" + strings.Repeat("---\na: 1\n", 100_000), 0, ""},
	{"flow list", "junk: [" + strings.Repeat("x,", 200_000) + "x]\n", 1, "more than 50000 YAML nodes"},
	{"block list", "junk:\n" + strings.Repeat("- x\n", 100_000), 50_001, "more than 50000 YAML nodes"},
	{"large file", "junk: \"" + strings.Repeat("x", 2<<20) + "\"\n", 0, "the file is 2.0 MiB, larger than the 1.0 MiB a YAML file may be"},
}

func init() {
	var b strings.Builder
	for m := range 30 {
		fmt.Fprintf(&b, "m%d:\n", m)
		for k := range 1500 {
			fmt.Fprintf(&b, "  k%d: v\n", k)
		}
	}
	bombs[6].yaml = b.String()
	// Each mapping of 1500 keys costs 1500·1501/2 of the 2000² budget:
	// the fourth (with the top-level keys, 1+2+3+4) crosses it at its
	// 1116th key.
	bombs[6].line = 3*1501 + 1 + 1116
	bombs[6].message = "too many keys in large mappings"
}

// TestBombsAreRefusedWithTheLine checks that each bomb is refused with
// the line where the limit was crossed, and that refusing it takes less
// than 64 MB of heap (without the guard: 824 MB to several GB).
func TestBombsAreRefusedWithTheLine(t *testing.T) {
	for _, tc := range bombs {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.yaml)
			var doc *yamlsafe.Document
			var err error
			peak := memtest.Peak(func() { doc, err = yamlsafe.Parse(data, yamlsafe.Limits{}) })
			t.Logf("%d bytes, peak heap %.1f MB", len(data), float64(peak)/1e6)
			if peak > 64<<20 {
				t.Errorf("peak heap %.1f MB, want under 64 MB", float64(peak)/1e6)
			}
			if tc.message == "" { // accepted: only the first document is read
				if err != nil {
					t.Fatal(err)
				}
				if doc.SecondDocument != 2 {
					t.Errorf("SecondDocument = %d, want 2", doc.SecondDocument)
				}
				return
			}
			var ye *yamlsafe.Error
			if !errors.As(err, &ye) {
				t.Fatalf("err = %v, want a *yamlsafe.Error", err)
			}
			if ye.Line != tc.line || !strings.Contains(ye.Message, tc.message) {
				t.Errorf("err = %q at line %d, want %q at line %d", ye.Message, ye.Line, tc.message, tc.line)
			}
		})
	}
}

// TestLimitsBoundTheHeap feeds inputs just inside each limit: goccy must
// parse them, and the heap it takes stays under 150 MB (the bound
// DefaultLimits promises; the readers in config and mapping add to it,
// see their own tests).
func TestLimitsBoundTheHeap(t *testing.T) {
	twoMappings := "a:\n" + lines(1999, "  k%d: v\n") + "b:\n" + lines(1999, "  k%d: v\n")
	var aliases strings.Builder
	aliases.WriteString("base: &b [" + strings.TrimSuffix(strings.Repeat("x, ", 999), ", ") + "]\nuses:\n")
	for i := range 99 {
		fmt.Fprintf(&aliases, "  u%d: *b\n", i)
	}
	inputs := map[string]string{
		"block list":     "junk:\n" + strings.Repeat("- x\n", 49_990),
		"flow list":      "junk: [" + strings.Repeat("x,", 49_990) + "x]\n",
		"block mappings": twoMappings,
		"deep flow":      "junk: " + strings.Repeat("[", 98) + strings.Repeat("]", 98) + "\n",
		"deep block":     indented(99, "k:"),
		"aliases":        aliases.String(),
		"long string":    "junk: \"" + strings.Repeat("x", 1<<20-20) + "\"\n",
		"anchors":        "junk:\n" + lines(24_000, "- &a%d x\n"),
		"flow mappings":  "junk: [" + strings.Repeat("{a: b}, ", 16_000) + "]\n",
		"maps in a list": "junk:\n" + strings.Repeat("- {a: b}\n", 16_000),
	}
	for name, text := range inputs {
		t.Run(name, func(t *testing.T) {
			data := []byte(text)
			var err error
			peak := memtest.Peak(func() { _, err = yamlsafe.Parse(data, yamlsafe.Limits{}) })
			t.Logf("%d bytes, peak heap %.1f MB", len(data), float64(peak)/1e6)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if peak > 150<<20 {
				t.Errorf("peak heap %.1f MB, want under 150 MB", float64(peak)/1e6)
			}
		})
	}
}

// TestBlockScalars checks that the text of a block scalar is not counted
// (a long script full of "key: value" lines is accepted), and that what
// follows one at its owner's indentation is counted again (keys cannot
// hide behind a "- key: |").
func TestBlockScalars(t *testing.T) {
	script := "steps:\n  - |\n" + lines(3000, "    step%d: run\n") + "  - run: |\n" + lines(3000, "      - step%d: x\n") + "    other: |\n" + lines(3000, "      k%d: v\n")
	if _, err := yamlsafe.Parse([]byte(script), yamlsafe.Limits{}); err != nil {
		t.Errorf("long block scalars refused: %v", err)
	}
	hidden := "items:\n  - k: |\n      text\n" + lines(3000, "    k%d: v\n")
	_, err := yamlsafe.Parse([]byte(hidden), yamlsafe.Limits{})
	var ye *yamlsafe.Error
	if !errors.As(err, &ye) || ye.Line != 2003 || !strings.Contains(ye.Message, "a mapping with more than 2000 keys") {
		t.Errorf("keys after a block scalar: err = %v, want more than 2000 keys at line 2003 (k is the first)", err)
	}
}

// TestReadFileDoesNotReadAHugeFile reads a 4 GiB (sparse) file: it is
// refused from its size, without its bytes being read.
func TestReadFileDoesNotReadAHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 4<<30); err != nil {
		t.Fatal(err)
	}
	var err error
	peak := memtest.Peak(func() { _, err = yamlsafe.ReadFile(path, yamlsafe.Limits{}) })
	want := "the file is 4096.0 MiB, larger than the 1.0 MiB a YAML file may be; refused before parsing"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if peak > 8<<20 {
		t.Errorf("peak heap %.1f MB, want under 8 MB", float64(peak)/1e6)
	}
	small := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(small, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := yamlsafe.ReadFile(small, yamlsafe.Limits{}); err != nil || string(data) != "a: 1\n" {
		t.Errorf("small file: %q, %v", data, err)
	}
}

// TestParseAgreesWithGoccy checks, on ordinary YAML, that Parse accepts it
// and decodes what goccy/go-yaml's Unmarshal decodes.
func TestParseAgreesWithGoccy(t *testing.T) {
	for _, in := range []string{
		"--- {a: 1, b: [x, 'y # z', \"w\\\"\"]}\n",
		"---\n# comment\nport: &p\n  baseUrl: http://x:8000/a#b\n  list:\n  - a: 1\n    b: |\n      text: not a key\n      - not an entry\n    c: >-\n      folded\nother:\n  <<: *p\n  extra: [1, 2.5, true, null, ~]\n",
		"? complex key\n: value\nplain: it's fine\nquoted: 'it''s'\n",
		"json: {\"a\": [1, {\"b\": \"c\"}],\n  \"d\": \"e\"}\n",
		"- - nested\n  - list\n- !!str 12\n- 0x1F\n",
	} {
		doc, err := yamlsafe.Parse([]byte(in), yamlsafe.Limits{})
		if err != nil {
			t.Errorf("%q refused: %v", in, err)
			continue
		}
		var want any
		if err := yaml.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%q: goccy: %v", in, err)
		}
		if !reflect.DeepEqual(doc.Value, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", in, doc.Value, want)
		}
	}
}
