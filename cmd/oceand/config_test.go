package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const cliSecret = "cli-secret-value-42"

var cliEnv = []string{
	"OCEAN__PORT__CLIENT_ID=cli-id",
	"OCEAN__PORT__CLIENT_SECRET=" + cliSecret,
	"OCEAN__INTEGRATION__TYPE=fake",
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		yaml     string
		env      []string
		code     int
		want     []string
		wantNone []string
	}{
		{
			name: "valid", yaml: "eventListener:\n  type: ONCE\n", env: cliEnv, code: exitOK,
			want: []string{"settings are valid\n"},
		},
		{
			name: "valid with warnings", yaml: "evenListener:\n  type: ONCE\nclientTimeout: 5\n", env: cliEnv, code: exitOK,
			want: []string{"warning: ", "config.yaml:1:1: evenListener: unknown setting, ignored; did you mean eventListener?", "settings are valid (1 warning)"},
		},
		{
			name: "every problem with its place",
			yaml: "port:\n  clientSecret: [" + cliSecret + "]\neventListener:\n  interval: soon\nintegration:\n  config:\n    entityAmount: many\n    seeed: 2\n",
			env:  []string{"OCEAN__INTEGRATION__TYPE=fake", "OCEAN__PORT__CLIENT_ID={{x}}"},
			code: exitUsage,
			want: []string{
				"config.yaml:2:3: port.clientSecret: must be a string, got a list",
				`config.yaml:4:13: eventListener.interval: must be an integer, got "soon"`,
				`config.yaml:7:19: integration.config.entityAmount: must be an integer, got "many"`,
				"warning: ", "integration.config.seeed: not a setting of this source (see its spec); passed on as given; did you mean integration.config.seed?",
			},
			wantNone: []string{cliSecret, "settings are valid"},
		},
		{
			name: "unknown source", yaml: "integration:\n  type: nosuch\n", env: cliEnv[:2], code: exitUsage,
			want: []string{`config.yaml:2:9: integration.type: "nosuch": no such source (available: custom, fake)`},
		},
		// What a start refuses, validate refuses.
		{
			name: "cron minute out of range", yaml: "scheduledResyncCron: \"61 * * * *\"\n", env: cliEnv, code: exitUsage,
			want: []string{"config.yaml:1:22: scheduledResyncCron: end of range (61) above maximum (59): 61"},
		},
		{
			name: "cron garbage", yaml: "scheduledResyncCron: garbage\n", env: cliEnv, code: exitUsage,
			want: []string{"config.yaml:1:22: scheduledResyncCron: expected exactly 5 fields, found 1: [garbage]"},
		},
		{
			name: "interval and cron", yaml: "scheduledResyncCron: '0 3 * * *'\nscheduledResyncInterval: 60\n", env: cliEnv, code: exitUsage,
			want: []string{"scheduledResyncCron: scheduledResyncInterval and scheduledResyncCron are both set; keep one"},
		},
		{
			name: "the source's own check", yaml: "integration:\n  config:\n    changedPercent: 150\n", env: cliEnv, code: exitUsage,
			want: []string{"integration.config.changedPercent: must be between 0 and 100, got 150"},
		},
		{
			name: "kafka mechanism", yaml: "eventListener:\n  type: KAFKA\n  authenticationMechanism: PLAIN\n", env: cliEnv, code: exitUsage,
			want: []string{`config.yaml:3:28: eventListener.authenticationMechanism: only SCRAM-SHA-512 is supported, got "PLAIN"`},
		},
		{
			// A typo must not send Port's Kafka credentials without TLS.
			name: "kafka security protocol", yaml: "eventListener:\n  type: KAFKA\n  securityProtocol: SASL_SLL\n", env: cliEnv, code: exitUsage,
			want: []string{`config.yaml:3:21: eventListener.securityProtocol: must be one of SASL_SSL, SASL_PLAINTEXT, SSL or PLAINTEXT, got "SASL_SLL"`},
		},
		{
			name: "a variable one letter from a setting", yaml: "", env: append([]string{"OCEAN__EVENT_LISTNER__TYPE=ONCE"}, cliEnv...), code: exitUsage,
			want: []string{"env OCEAN__EVENT_LISTNER__TYPE: event_listner: unknown setting; did you mean OCEAN__EVENT_LISTENER__TYPE?"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.env, "config", "validate", "--config", writeConfig(t, tt.yaml))
			if code != tt.code {
				t.Errorf("exit code %d, want %d\n%s\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range append(tt.wantNone, cliSecret) {
				if strings.Contains(out+errOut, w) {
					t.Errorf("output contains %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

func TestConfigPrint(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "eventListener:\n  type: ONCE\nclientTimeout: 30\nintegration:\n  config:\n    entityAmount: 12\n    auth: {token: "+cliSecret+"-nested}\n")
	env := append([]string{"OCEAN__STATE_DIR=/srv/oceand"}, cliEnv...)

	// --wide: the temporary directory makes sources long enough to wrap.
	code, out, errOut := runCLI(t, env, "config", "print", "--wide", "--config", path, "--log-level", "debug")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range [][]string{
		{"port.clientSecret", "[REDACTED]", "env OCEAN__PORT__CLIENT_SECRET"},
		{"eventListener.type", "ONCE", "config.yaml:2:9"},
		{"integration.config.entityAmount", "12", "config.yaml:6:19"},
		{"integration.config.seed", "1", "default"},
		{"integration.config.auth", `{"token":"[REDACTED]"}`},
		{"stateDir", "/srv/oceand", "env OCEAN__STATE_DIR"},
		{"logLevel", "debug", "flag"},
		{"clientTimeout", "30", "config.yaml:3:16", "ignored: "},
	} {
		if !lineWith(out, want...) {
			t.Errorf("no line with %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, cliSecret) {
		t.Errorf("print shows the secret:\n%s", out)
	}

	code, out, _ = runCLI(t, env, "config", "print", "--json", "--config", path)
	if code != exitOK {
		t.Fatalf("--json exit %d", code)
	}
	var entries []struct {
		Key    string
		Value  any
		Source struct {
			Type, File, Env string
			Line, Column    int
		}
		Ignored   string
		Sensitive bool
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("print --json: %v\n%s", err, out)
	}
	found := 0
	for _, e := range entries {
		switch e.Key {
		case "port.clientSecret":
			found++
			if e.Value != "[REDACTED]" || !e.Sensitive || e.Source.Type != "env" || e.Source.Env != "OCEAN__PORT__CLIENT_SECRET" {
				t.Errorf("clientSecret entry %+v", e)
			}
		case "integration.config.entityAmount":
			found++
			if e.Value != 12.0 || e.Source.Type != "file" || e.Source.Line != 6 || e.Source.Column != 19 {
				t.Errorf("entityAmount entry %+v", e)
			}
		}
	}
	if found != 2 || strings.Contains(out, cliSecret) {
		t.Errorf("found %d entries; secret shown: %v", found, strings.Contains(out, cliSecret))
	}

	// Problems go to stderr with exit code 2; the table is still printed.
	code, out, errOut = runCLI(t, cliEnv, "config", "print", "--config", writeConfig(t, "jobHistoryLimit: lots\n"))
	if code != exitUsage || !strings.Contains(errOut, `jobHistoryLimit: must be an integer, got "lots"`) || !strings.Contains(out, "jobHistoryLimit") {
		t.Errorf("print with a problem: exit %d\n%s\n%s", code, out, errOut)
	}
}

// lineWith reports whether some line of out contains every part.
func lineWith(out string, parts ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestRunShowsSettingsProblemsWithWarnings(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "evenListener:\n  type: ONCE\njobHistoryLimit: lots\n")
	code, _, errOut := runCLI(t, cliEnv, "run", "--config", path)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{`jobHistoryLimit: must be an integer, got "lots"`, "warning: ", "evenListener: unknown setting, ignored; did you mean eventListener?"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, cliSecret) {
		t.Errorf("stderr shows the secret:\n%s", errOut)
	}
}

// run refuses what validate refuses, with the same lines: the problems a
// start finds and the warnings that explain them.
func TestRunShowsWhatValidateShows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{
			name: "a misspelt required setting",
			yaml: "port:\n  clientid: x\n",
			env:  []string{"OCEAN__PORT__CLIENT_SECRET=" + cliSecret, "OCEAN__INTEGRATION__TYPE=fake"},
			want: []string{
				"port.clientId: required: set port.clientId in config.yaml or OCEAN__PORT__CLIENT_ID",
				"warning: ",
				"config.yaml:2:3: port.clientid: unknown setting, ignored; did you mean port.clientId?",
			},
		},
		{
			name: "a bad schedule", yaml: "scheduledResyncCron: garbage\n", env: cliEnv,
			want: []string{"scheduledResyncCron: expected exactly 5 fields"},
		},
		{
			name: "a variable one letter from a setting", env: append([]string{"OCEAN__EVENT_LISTNER__TYPE=ONCE"}, cliEnv...),
			want: []string{"env OCEAN__EVENT_LISTNER__TYPE: event_listner: unknown setting; did you mean OCEAN__EVENT_LISTENER__TYPE?"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.yaml)
			env := append([]string{"OCEAN__STATE_DIR=" + t.TempDir()}, tt.env...)
			_, validateOut, _ := runCLI(t, env, "config", "validate", "--config", path)
			code, _, errOut := runCLI(t, env, "run", "--config", path)
			if code != exitUsage {
				t.Errorf("run: exit %d, want %d\n%s", code, exitUsage, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("run's stderr lacks %q:\n%s", want, errOut)
				}
				if !strings.Contains(validateOut, want) {
					t.Errorf("validate's output lacks %q:\n%s", want, validateOut)
				}
			}
			if strings.Contains(errOut, cliSecret) {
				t.Errorf("stderr shows the secret:\n%s", errOut)
			}
		})
	}
}

func TestConfigPrintFits120Columns(t *testing.T) {
	t.Parallel()
	env := append([]string{"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS=5", "OCEAN__CLIENT_TIMEOUT=5"}, cliEnv...)
	code, out, errOut := runCLI(t, env, "config", "print")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 120 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	for _, want := range [][]string{
		{"eventListener.brokers", `["b-1-public.publicclus…`, "default"},
		{"clientTimeout", "5", "env OCEAN__CLIENT_TIMEOUT", "ignored: no built-in"},
		{"(cut to 120 columns: --wide shows every value whole, --json as data)"},
	} {
		if !lineWith(out, want...) {
			t.Errorf("no line with %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, cliSecret) {
		t.Errorf("print shows the secret:\n%s", out)
	}

	code, out, _ = runCLI(t, env, "config", "print", "--wide")
	brokers := `["b-1-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196",` +
		`"b-2-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196",` +
		`"b-3-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196"]`
	if code != exitOK || !lineWith(out, "eventListener.brokers", brokers) || !lineWith(out, "clientTimeout", "ignored: no built-in source makes third-party HTTP requests yet") ||
		strings.Contains(out, "…") || strings.Contains(out, cliSecret) {
		t.Errorf("--wide: exit %d\n%s", code, out)
	}
}
