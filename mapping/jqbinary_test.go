package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fieldProgram is one jq program of a compiled resource with its field.
type fieldProgram struct {
	field string
	prog  *program
}

// programs lists every jq program of a resource: selector, itemsToParse
// and every leaf of every entity mapping.
func (r *ResourceMapper) programs() []fieldProgram {
	out := []fieldProgram{{"selector.query", r.selector}}
	if r.itemsToParse != nil {
		out = append(out, fieldProgram{"port.itemsToParse", r.itemsToParse})
	}
	var walk func(n *node)
	walk = func(n *node) {
		switch {
		case n.prog != nil:
			out = append(out, fieldProgram{n.prog.field, n.prog})
		case n.obj != nil:
			for _, c := range n.obj {
				walk(c.node)
			}
		default:
			for _, c := range n.arr {
				walk(c)
			}
		}
	}
	for _, ep := range r.entities {
		for _, group := range [][]namedNode{ep.top, ep.properties, ep.relations} {
			for _, f := range group {
				walk(f.node)
			}
		}
	}
	return out
}

// oceanProgram wraps a rewritten program so the jq binary gives, per
// input, what Ocean reads: {"v": first output}, {"none": true} or
// {"error": message}.
func oceanProgram(src string) string {
	return `try ([limit(1; (` + "\n" + src + "\n" + `))] | if length == 0 then {none: true} else {v: .[0]} end) catch {error: .}`
}

// TestProgramsAgreeWithTheJQBinary runs every program of the golden
// mappings through Debian's jq on every sample item and checks that oceand
// gives the same first output, and null with a misconfiguration exactly
// where jq errs or gives nothing. Skipped when jq is not installed.
func TestProgramsAgreeWithTheJQBinary(t *testing.T) {
	t.Parallel()
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq is not installed")
	}
	cases := map[string]string{
		"../sources/fake/resources/port-app-config.yml": "testdata/fake/*.json",
		"testdata/golden/search-queries.yml":            "testdata/golden/search-queries.json",
		"testdata/golden/failing-fields.yml":            "testdata/golden/failing-fields.json",
		"testdata/golden/items-to-parse.yml":            "testdata/golden/items-to-parse.json",
	}
	compared := 0
	for mappingFile, inputs := range cases {
		b, err := os.ReadFile(mappingFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseFile(mappingFile, b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Compile(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		byKind := readSampleItems(t, inputs)
		for _, rm := range m.Resources() {
			items := byKind[rm.Resource.Kind]
			var ndjson bytes.Buffer
			for _, it := range items {
				line, _ := json.Marshal(it)
				ndjson.Write(append(line, '\n'))
			}
			var progs []fieldProgram
			var wrapped []string
			for _, fp := range rm.programs() {
				if strings.Contains(fp.prog.expr, "env") || strings.Contains(fp.prog.expr, "$ENV") {
					continue // the jq binary sees the whole environment
				}
				progs = append(progs, fp)
				wrapped = append(wrapped, "("+oceanProgram(rewriteSingleQuotes(fp.prog.expr))+")")
			}
			// One jq run per resource: an array of every program's result.
			cmd := exec.Command(jq, "-c", "["+strings.Join(wrapped, ",\n")+"]")
			cmd.Stdin = bytes.NewReader(ndjson.Bytes())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("jq on %s: %v", rm.KindID(), err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(items) {
				t.Fatalf("jq gave %d results for %d items", len(lines), len(items))
			}
			for i, line := range lines {
				var results []struct {
					V     any
					None  bool
					Error any
				}
				if err := json.Unmarshal([]byte(line), &results); err != nil || len(results) != len(progs) {
					t.Fatalf("jq output %s: %v", line, err)
				}
				for n, fp := range progs {
					want := results[n]
					got, outcome, reason, err := fp.prog.run(&evalState{parent: context.Background()}, jqInput(items[i]))
					if err != nil {
						t.Fatal(err)
					}
					where := fmt.Sprintf("%s %s (%s) on item %d", filepath.Base(mappingFile), fp.field, fp.prog.expr, i)
					switch {
					case want.None || want.Error != nil:
						if outcome != nullOut {
							t.Errorf("%s: oceand gives %v, jq gives no value (%+v)", where, got, want)
						}
					case outcome == nullOut:
						t.Errorf("%s: oceand gives null (%s), jq gives %v", where, reason, want.V)
					case !sameJSON(got, want.V):
						t.Errorf("%s: oceand gives %v, jq gives %v", where, got, want.V)
					}
					compared++
				}
			}
		}
	}
	t.Logf("%d program runs compared with %s", compared, jq)
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// readSampleItems reads {"kind": [items]} files, or <kind>.json lists
// named by a glob.
func readSampleItems(t *testing.T, pattern string) map[string][]any {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample items at %s", pattern)
	}
	out := map[string][]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pattern, "*") {
			var items []any
			if err := json.Unmarshal(b, &items); err != nil {
				t.Fatal(err)
			}
			out[strings.TrimSuffix(filepath.Base(f), ".json")] = items
			continue
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
