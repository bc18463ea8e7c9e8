package mapping

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// benchItems is how many fake persons one benchmark iteration maps.
const benchItems = 4000

// BenchmarkMapFakePerson measures the fake-person mapping of the fake
// source (sources/fake/resources/port-app-config.yml) on persons shaped as
// the fake source emits them (1 KiB bios), reported as entities/s:
//
//   - oceand-1-core: Map item after item with GOMAXPROCS=1;
//   - oceand-all-cores: MapItems over pages of 1000 (the resync's call);
//   - oceand-1-core-gojq-only: every program in parentheses, so none takes
//     the Go path shortcut: the cost of gojq itself;
//   - oceand-1-core-json: decode each item from JSON, map, encode each
//     entity, as the jq binary must;
//   - jq-binary: Debian's jq running the same mapping with Ocean's
//     semantics per field (first output, null on error) on the same items
//     as JSON lines; jq-binary-bare: the plain object construction, jq's
//     best case. Both skip when jq is not installed.
//
// go test -run '^$' -bench MapFakePerson -benchtime 3x ./mapping/
func BenchmarkMapFakePerson(b *testing.B) {
	cfg := benchConfig(b)
	res := &cfg.Resources[1]
	if res.Kind != "fake-person" {
		b.Fatalf("resource 1 is %s, want fake-person", res.Kind)
	}
	items := benchPersons(b)
	m, err := Compile(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rm := m.Resources()[1]
	report := func(b *testing.B) {
		b.ReportMetric(float64(benchItems)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
	}

	b.Run("oceand-1-core", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		for b.Loop() {
			mapAll(b, rm, items)
		}
		report(b)
	})
	b.Run("oceand-all-cores", func(b *testing.B) {
		for b.Loop() {
			mapPages(b, rm, items)
		}
		report(b)
	})
	wrapped := *cfg
	wrapped.Resources = []Resource{parenthesize(*res)}
	wm, err := Compile(&wrapped, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("oceand-1-core-gojq-only", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		for b.Loop() {
			mapAll(b, wm.Resources()[0], items)
		}
		report(b)
	})
	b.Run("oceand-all-cores-gojq-only", func(b *testing.B) {
		for b.Loop() {
			mapPages(b, wm.Resources()[0], items)
		}
		report(b)
	})
	lines := jsonLines(b, items)
	b.Run("oceand-1-core-json", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		w := bufio.NewWriter(discard{})
		for b.Loop() {
			for _, line := range lines {
				v, err := decodeJSON(line)
				if err != nil {
					b.Fatal(err)
				}
				r, err := rm.Map(context.Background(), v)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range r.Entities {
					out, err := json.Marshal(e)
					if err != nil {
						b.Fatal(err)
					}
					w.Write(out)
					w.WriteByte('\n')
				}
			}
		}
		report(b)
	})
	jq, err := exec.LookPath("jq")
	file := filepath.Join(b.TempDir(), "persons.jsonl")
	if err == nil {
		err = os.WriteFile(file, []byte(strings.Join(stringsOf(lines), "\n")+"\n"), 0o600)
	}
	for _, tc := range []struct {
		name    string
		program string
	}{
		{"jq-binary", jqObject(*res, true)},
		{"jq-binary-bare", jqObject(*res, false)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if err != nil {
				b.Skip("jq is not installed")
			}
			devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer devnull.Close()
			for b.Loop() {
				cmd := exec.Command(jq, "-c", tc.program, file)
				cmd.Stdout = devnull
				if err := cmd.Run(); err != nil {
					b.Fatalf("jq: %v", err)
				}
			}
			report(b)
		})
	}
}

// mapPages maps items in pages of 1000 with MapItems, as the resync does.
func mapPages(b *testing.B, rm *ResourceMapper, items []map[string]any) {
	for start := 0; start < len(items); start += 1000 {
		for _, r := range rm.MapItems(context.Background(), items[start:min(start+1000, len(items))]) {
			if r.Err != nil || len(r.Entities) != 1 {
				b.Fatalf("%+v", r)
			}
		}
	}
}

func mapAll(b *testing.B, rm *ResourceMapper, items []map[string]any) {
	for _, it := range items {
		r, err := rm.Map(context.Background(), it)
		if err != nil || len(r.Entities) != 1 {
			b.Fatalf("%+v %v", r, err)
		}
	}
}

func benchConfig(b *testing.B) *Config {
	src, err := os.ReadFile("../sources/fake/resources/port-app-config.yml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := ParseFile("port-app-config.yml", src)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// benchPersons makes benchItems persons from the sample the fake source
// emitted (testdata/fake), each with its own id, name and email.
func benchPersons(b *testing.B) []map[string]any {
	raw, err := os.ReadFile("testdata/fake/fake-person.json")
	if err != nil {
		b.Fatal(err)
	}
	var sample []map[string]any
	if err := json.Unmarshal(raw, &sample); err != nil {
		b.Fatal(err)
	}
	out := make([]map[string]any, benchItems)
	for i := range out {
		p := map[string]any{}
		for k, v := range sample[i%len(sample)] {
			p[k] = v
		}
		p["id"] = fmt.Sprintf("%s-%07d", p["id"], i)
		p["name"] = fmt.Sprintf("%s %d", p["name"], i)
		p["email"] = fmt.Sprintf("%d.%s", i, p["email"])
		out[i] = p
	}
	return out
}

func jsonLines(b *testing.B, items []map[string]any) [][]byte {
	out := make([][]byte, len(items))
	for i, it := range items {
		line, err := json.Marshal(it)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = line
	}
	return out
}

func stringsOf(lines [][]byte) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// parenthesize wraps every program of a resource in parentheses, which
// keeps its meaning but not the Go path shortcut.
func parenthesize(r Resource) Resource {
	wrap := func(s string) string { return "(" + s + ")" }
	em := r.Port.Entity.Mappings[0]
	out := em
	out.Identifier = wrap(em.Identifier.(string))
	out.Blueprint = wrap(em.Blueprint)
	t := wrap(*em.Title)
	out.Title = &t
	out.Properties = map[string]string{}
	for k, v := range em.Properties {
		out.Properties[k] = wrap(v)
	}
	out.Relations = map[string]any{}
	for k, v := range em.Relations {
		out.Relations[k] = wrap(v.(string))
	}
	r.Port.Entity.Mappings = []EntityMapping{out}
	r.Selector.Query = wrap(r.Selector.Query)
	return r
}

// jqObject writes a resource's mapping as one jq program: select by the
// selector, then build the entity. With ocean set, every field has Ocean's
// semantics (the first output; null on an error or no output).
func jqObject(r Resource, ocean bool) string {
	field := func(expr string) string {
		src := rewriteSingleQuotes(expr)
		if ocean {
			return "(try ([limit(1; (" + src + "))][0]) catch null)"
		}
		return "(" + src + ")"
	}
	object := func(m map[string]string) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			parts[i] = string(kb) + ": " + field(m[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	em := r.Port.Entity.Mappings[0]
	rels := map[string]string{}
	for k, v := range em.Relations {
		rels[k] = v.(string)
	}
	return "select(" + rewriteSingleQuotes(r.Selector.Query) + ") | {identifier: " + field(em.Identifier.(string)) +
		", title: " + field(*em.Title) + ", blueprint: " + field(em.Blueprint) +
		", properties: " + object(em.Properties) + ", relations: " + object(rels) + "}"
}
