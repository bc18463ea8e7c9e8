package config

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"oceand/internal/memtest"
	"oceand/logging"
)

// fuzzSecret is a Port client secret every fuzzed load gets from the
// environment; it must never be printed.
const fuzzSecret = "fuzz-client-secret-7f3a"

const fuzzSpec = `configurations:
  - {name: apiUrl, type: url, required: true}
  - {name: apiToken, type: string, sensitive: true}
  - {name: pageSize, type: integer, default: 10}
  - {name: verify, type: boolean, default: true}
  - {name: auth, type: object}
  - {name: items, type: array, default: [a]}
`

// fuzzHeapBound is the most heap a load may reach, whatever the input:
// yamlsafe's limits keep a config.yaml under about 150 MB.
const fuzzHeapBound = 256 << 20

// FuzzLoad feeds arbitrary config.yaml, .env, environment and flags to the
// loader and checks that it never panics, never prints the secret, is
// deterministic, that its output can be encoded, that the spec applies
// idempotently and that the heap stays under fuzzHeapBound. Seeds: f.Add
// below and testdata/fuzz/FuzzLoad.
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 60s ./config/
func FuzzLoad(f *testing.F) {
	f.Add([]byte("port:\n  clientId: \"{{ from env ID }}\"\neventListener:\n  type: ONCE\n  interval: 5\nintegration:\n  type: fake\n  config:\n    apiUrl: https://x.io/\n    auth: {body: {password: p4ss}}\n"),
		[]byte("OCEAN__EVENT_LISTENER__INTERVAL=7\nID=abc\n"), "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=3\nOCEAN__SSL='{\"port\":{\"verify\":\"no\"}}'", "log_level=debug")
	f.Add([]byte("evenListener: {type: ONCE}\nport: &p\n  baseUrl: http://x\nother:\n  <<: *p\n"), []byte(""), "OCEAN__EVENT_LISTENER={\"type\":\"KAFKA\"}\nOCEAN__EVENT_LISTENER__BROKERS=[\"a\",\"b\"]", "")
	f.Add([]byte("- a\n- b\n"), []byte("export X=\"unclosed\n"), "OCEAN__PORT____X=1", "integration.config={\"apiUrl\":\"/\"}")
	f.Add([]byte("integration:\n  config:\n    items: '{{ from vault x }}'\n    pageSize: .nan\n"), []byte("A=${B:-c}\n"), "OCEAN__INTEGRATION__CONFIG={\"auth\":\"{\"}", "")
	f.Add([]byte("a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\nport:\n  baseUrl: x\n  baseUrl: y\n"), []byte(""), "", "")
	f.Add([]byte("junk: [[[[{a: [[{b: c}]]}]]]]\n---\nother: doc\n"), []byte(""), "", "")
	f.Fuzz(func(t *testing.T, yamlText, dotenv []byte, environ, flagLines string) {
		env := []string{"OCEAN__PORT__CLIENT_SECRET=" + fuzzSecret}
		env = append(env, strings.Split(environ, "\n")...)
		flags := map[string]string{}
		for _, line := range strings.Split(flagLines, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				flags[k] = v
			}
		}
		src := inputs{configFile: "config.yaml", config: yamlText, dotenvFile: ".env", dotenv: dotenv, environ: env, flags: flags}

		var s *Settings
		var problems []Problem
		if heap := memtest.Highest(func() { s, problems = load(src) }); heap > fuzzHeapBound {
			t.Fatalf("the heap reached %d MB, more than %d MB", heap>>20, fuzzHeapBound>>20)
		}
		if s == nil {
			t.Fatal("load returned no settings")
		}
		problems = append(problems, ProblemsOf(s.Validate())...)
		specErr := s.ApplySpec([]byte(fuzzSpec))
		problems = append(problems, ProblemsOf(specErr)...)
		problems = append(problems, s.Warnings()...)

		// Loading is deterministic.
		again, againProblems := load(src)
		againProblems = append(againProblems, ProblemsOf(again.Validate())...)
		againProblems = append(againProblems, ProblemsOf(again.ApplySpec([]byte(fuzzSpec)))...)
		againProblems = append(againProblems, again.Warnings()...)
		if !reflect.DeepEqual(texts(problems), texts(againProblems)) {
			t.Fatalf("two loads disagree:\n%q\n%q", texts(problems), texts(againProblems))
		}

		// The spec applies idempotently.
		if specErr == nil {
			before, _ := json.Marshal(s.Integration.Config)
			if err := s.ApplySpec([]byte(fuzzSpec)); err != nil {
				t.Fatalf("second ApplySpec failed: %v", err)
			}
			after, _ := json.Marshal(s.Integration.Config)
			if string(before) != string(after) {
				t.Fatalf("second ApplySpec changed the config:\n%s\n%s", before, after)
			}
		}

		entries := s.Entries()
		printed, err := json.Marshal(entries)
		if err != nil {
			t.Fatalf("entries cannot be printed as JSON: %v", err)
		}
		for _, e := range entries {
			if e.Sensitive && e.Value != logging.Mask && !reflect.ValueOf(e.Value).IsZero() {
				t.Fatalf("sensitive %s printed as %v", e.Key, e.Value)
			}
		}
		_ = s.Ignored()

		// The secret never shows, unless the input itself repeats it.
		given := string(yamlText) + string(dotenv) + environ + flagLines
		if !strings.Contains(given, fuzzSecret[:8]) {
			all := strings.Join(texts(problems), "\n") + string(printed)
			if strings.Contains(all, fuzzSecret) {
				t.Fatalf("the secret shows:\n%s", all)
			}
			if s.Port.ClientSecret == fuzzSecret && !slices.Contains(s.Secrets(), fuzzSecret) {
				t.Fatal("the client secret is not among the secrets")
			}
		}
	})
}

func texts(problems []Problem) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.String()
		if p.Warning {
			out[i] = "warning: " + out[i]
		}
	}
	return out
}
