package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oceand/internal/memtest"
	"oceand/mapping"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const fakeMapping = "../../sources/fake/resources/port-app-config.yml"

func TestMappingTestPrintsEntities(t *testing.T) {
	t.Parallel()
	input := writeFile(t, "persons.json", `[
  {"id": "AB1", "name": "Ada", "email": "ada@example.com", "age": 36, "status": "WORKING", "department": {"id": "hr", "name": "HR"}, "bio": "b"},
  {"id": "", "name": "Nobody", "department": "not an object"}
]`)
	code, out, errOut := runCLI(t, nil, "mapping", "test", "--mapping", fakeMapping, "--kind", "fake-person", "--input", input)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"== fake-person-1: resources[1], kind fake-person",
		"-- item 0: 1 entity",
		`"identifier": "AB1"`,
		`"age": 36`,
		"-- item 1: 1 dropped (no valid identifier or blueprint), 3 misconfigurations",
		`port.entity.mappings.identifier (.id): gave "" (a string), not a valid identifier; the entity is dropped`,
		`null: port.entity.mappings.properties.department (.department.name): expected an object but got: string ("not an object")`,
		"== fake-person-1: 2 items, 1 entity, 0 filtered, 1 dropped, 0 skipped, 0 failed, 3 misconfigurations",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The same as JSON, and the input may be JSON lines.
	lines := writeFile(t, "persons.jsonl", `{"id": "a", "department": {"id": "hr"}}`+"\n"+`{"id": "b"}`+"\n")
	code, out, errOut = runCLI(t, nil, "mapping", "test", "--mapping", fakeMapping, "--kind", "fake-person", "--input", lines, "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var got struct {
		Warnings  []mapping.Problem
		Resources []mapping.ResourceTrial
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got.Resources) != 1 || got.Resources[0].Totals.Entities != 2 || got.Resources[0].Items[0].Entities[0]["identifier"] != "a" {
		t.Errorf("JSON output: %+v", got)
	}
}

func TestMappingTestRefusesABrokenMapping(t *testing.T) {
	t.Parallel()
	input := writeFile(t, "items.json", `{"id": "x"}`)
	broken := writeFile(t, "mapping.yml", `resources:
  - kind: a
    selector:
      query: .x ==
    port:
      entity:
        mappings:
          identifier: .id | | .y
          blueprint: '"a"'
`)
	code, out, errOut := runCLI(t, nil, "mapping", "test", "--mapping", broken, "--input", input)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{
		broken + `:4:19: resources[0] (kind a) selector.query: jq syntax error: unexpected EOF at column 6 of ".x =="`,
		"    .x ==\n         ^",
		broken + `:8:29: resources[0] (kind a) port.entity.mappings.identifier: jq syntax error: unexpected token "|" at column 7`,
		"oceand: the mapping has 2 errors",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if out != "" {
		t.Errorf("stdout: %s", out)
	}

	invalid := writeFile(t, "invalid.yml", "resources:\n  - kind: a\n    port: {entity: {mappings: {identifier: .id}}}\n")
	code, _, errOut = runCLI(t, nil, "mapping", "test", "--mapping", invalid, "--input", input)
	if code != exitUsage || !strings.Contains(errOut, invalid+":3:") || !strings.Contains(errOut, "resources[0].port.entity.mappings.blueprint: required") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}

func TestMappingTestKindAndInput(t *testing.T) {
	t.Parallel()
	input := writeFile(t, "items.json", `[{"id": "x"}]`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"several kinds", []string{"--input", input}, "the mapping has kinds fake-department, fake-person, fake-office, fake-team, fake-project: choose one with --kind"},
		{"unknown kind", []string{"--input", input, "--kind", "fake-dog"}, "--kind fake-dog: the mapping has no such kind"},
		{"no input", []string{"--kind", "fake-team", "--input", filepath.Join(t.TempDir(), "none.json")}, "read the input"},
		{"bad input", []string{"--kind", "fake-team", "--input", writeFile(t, "bad.json", `[{"id": `)}, "expected JSON: an item, a list of items, or JSON lines"},
		{"empty input", []string{"--kind", "fake-team", "--input", writeFile(t, "empty.json", `[]`)}, "holds no items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, nil, append([]string{"mapping", "test", "--mapping", fakeMapping}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant %q", code, errOut, tc.want)
			}
		})
	}
}

func TestMappingTestJQEnv(t *testing.T) {
	t.Parallel()
	m := writeFile(t, "mapping.yml", `resources:
  - kind: a
    selector: {query: 'true'}
    port: {entity: {mappings: {identifier: .id, blueprint: '"a"', properties: {region: env.REGION, token: env.TOKEN}}}}
`)
	input := writeFile(t, "items.json", `{"id": "x"}`)
	environ := []string{"REGION=eu", "TOKEN=secret-token"}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, `{"region":null,"token":null}`},
		{[]string{"--jq-env", "REGION"}, `{"region":"eu","token":null}`},
	} {
		code, out, errOut := runCLI(t, environ, append([]string{"mapping", "test", "--mapping", m, "--input", input, "--json"}, tc.flags...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got struct{ Resources []mapping.ResourceTrial }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		props, _ := json.Marshal(got.Resources[0].Items[0].Entities[0]["properties"])
		if string(props) != tc.want {
			t.Errorf("%v: properties %s, want %s", tc.flags, props, tc.want)
		}
	}
}

// TestMappingTestHostileMappings runs `oceand mapping test` on mappings
// that took gigabytes (issue 12): a YAML alias bomb is refused with its
// line before it is decoded, a 64 MiB file from its size before it is
// read; a jq program that builds a huge array fails
// its item, naming the memory budget, with the heap kept under a bound; a
// key written twice keeps the second, with a warning naming both lines.
// Not parallel: it measures the heap.
func TestMappingTestHostileMappings(t *testing.T) {
	input := writeFile(t, "items.json", `{"id": "x"}`)

	var bomb strings.Builder
	bomb.WriteString("resources: []\njunk:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&bomb, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	bombFile := writeFile(t, "bomb.yml", bomb.String())
	code, _, errOut := runCLI(t, nil, "mapping", "test", "--mapping", bombFile, "--input", input)
	if want := bombFile + ":8:12: aliases expand to more than 100000 nodes; refused before decoding"; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("alias bomb: exit %d, want %d and %q:\n%s", code, exitUsage, want, errOut)
	}

	huge := writeFile(t, "huge.yml", "")
	if err := os.Truncate(huge, 64<<20); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "mapping", "test", "--mapping", huge, "--input", input)
	if want := huge + ": the file is 64.0 MiB, larger than the 1.0 MiB a YAML file may be; refused before parsing"; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("huge mapping: exit %d, want %d and %q:\n%s", code, exitUsage, want, errOut)
	}

	jqBomb := writeFile(t, "jq-bomb.yml", `resources:
  - kind: service
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          blueprint: '"service"'
          blueprint: '"svc"'
          properties:
            size: '[range(1e8)] | length'
`)
	var out string
	peak := memtest.Peak(func() {
		// The time limit well past what the budget takes: under -race on a
		// loaded machine the default 10 s stopped it first (at 66 MB).
		code, out, errOut = runCLI(t, nil, "mapping", "test", "--mapping", jqBomb, "--input", input, "--memory-budget", "64", "--timeout", "2m")
	})
	t.Logf("peak heap %.1f MB", float64(peak)/1e6)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"port.entity.mappings.properties.size: in resources[0] (kind service), jq exceeded the memory budget (64 MiB of heap) and was stopped",
		"1 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if want := jqBomb + `:10:11: key "blueprint" is written twice, on lines 9 and 10; the second is used, as Ocean (PyYAML) does`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if peak > 256<<20 {
		t.Errorf("peak heap %.1f MB, want under 256 MB", float64(peak)/1e6)
	}
}
