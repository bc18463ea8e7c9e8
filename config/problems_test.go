package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"oceand/config"
)

// valid is the least a start needs.
var valid = []string{
	"OCEAN__PORT__CLIENT_ID=id-value",
	"OCEAN__PORT__CLIENT_SECRET=secret-value",
	"OCEAN__INTEGRATION__TYPE=fake",
}

// allProblems loads in and validates, returning every error as text.
func allProblems(t *testing.T, in input) []string {
	t.Helper()
	s, problems := read(t, in)
	return append(problems, problemLines(config.ProblemsOf(s.Validate()))...)
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   input
		want []string
	}{
		{"YAML syntax", input{yaml: "port:\n  clientSecret: s3cr3t\n   bad: x\n", env: valid},
			[]string{"config.yaml:2:17: invalid YAML: mapping value is not allowed in this context"}},
		{"not a mapping", input{yaml: "- port\n- clientId\n", env: valid},
			[]string{"config.yaml:1:1: must be a mapping of settings (key: value lines), got a list"}},
		{"one setting written twice", input{yaml: "port:\n  clientId: a\n  client_id: b\n", env: valid[1:]},
			[]string{`config.yaml:3:3: port.clientId: set twice in one source, as "clientId" and "client_id"`}},
		{"integer from YAML", input{yaml: "eventListener:\n  interval: soon\n", env: valid},
			[]string{`config.yaml:2:13: eventListener.interval: must be an integer, got "soon"`}},
		{"integer from env", input{env: append([]string{"OCEAN__EVENT_LISTENER__INTERVAL=4.5"}, valid...)},
			[]string{`env OCEAN__EVENT_LISTENER__INTERVAL: eventListener.interval: must be an integer, got "4.5"`}},
		{"fractional number for an integer", input{yaml: "jobHistoryLimit: 2.5\n", env: valid},
			[]string{`config.yaml:1:18: jobHistoryLimit: must be an integer, got 2.5`}},
		{"boolean from .env", input{dotenv: "\nOCEAN__INITIALIZE_PORT_RESOURCES=maybe\n", env: valid},
			[]string{`.env:2 OCEAN__INITIALIZE_PORT_RESOURCES: initializePortResources: must be a boolean (true or false), got "maybe"`}},
		{"number from a flag", input{flags: map[string]string{"max_event_processing_seconds": "soon"}, env: valid},
			[]string{`flag: maxEventProcessingSeconds: must be a number, got "soon"`}},
		{"object expected", input{yaml: "eventListener: ONCE\n", env: valid},
			[]string{`config.yaml:1:16: eventListener: must be an object, got "ONCE"`}},
		{"object expected, invalid JSON in env", input{env: append([]string{`OCEAN__EVENT_LISTENER={"type":`}, valid...)},
			[]string{`env OCEAN__EVENT_LISTENER: eventListener: must be a JSON object, got invalid JSON (unexpected end of JSON input, at byte 8)`}},
		// Variables that set parts of the same object do not hide it.
		{"invalid JSON object in env with nested variables", input{env: append([]string{
			`OCEAN__EVENT_LISTENER={"type": ONCE}`, "OCEAN__EVENT_LISTENER__INTERVAL=5"}, valid...)},
			[]string{`env OCEAN__EVENT_LISTENER: eventListener: must be a JSON object, got invalid JSON (invalid character 'O' looking for beginning of value, at byte 10)`}},
		{"invalid JSON integration.config with nested variables", input{env: append([]string{
			`OCEAN__INTEGRATION__CONFIG={"entity_amount": 5,}`, "OCEAN__INTEGRATION__CONFIG__SEED=2"}, valid...)},
			[]string{`env OCEAN__INTEGRATION__CONFIG: integration.config: must be a JSON object, got invalid JSON (invalid character '}' looking for beginning of object key string, at byte 21)`}},
		{"invalid JSON in an integration.config key with nested variables", input{env: append([]string{
			`OCEAN__INTEGRATION__CONFIG__AUTH={"token": s3cr3t-value`, "OCEAN__INTEGRATION__CONFIG__AUTH__USER=me"}, valid...)},
			[]string{`env OCEAN__INTEGRATION__CONFIG__AUTH: integration.config.auth: is invalid JSON (invalid character 's' looking for beginning of value, at byte 11), and OCEAN__INTEGRATION__CONFIG__AUTH__USER sets a part of it; give the whole object as JSON or set its parts only`}},
		{"a scalar object with nested variables", input{env: append([]string{
			"OCEAN__EVENT_LISTENER=ONCE", "OCEAN__EVENT_LISTENER__INTERVAL=5"}, valid...)},
			[]string{`env OCEAN__EVENT_LISTENER: eventListener: is not a JSON object, and OCEAN__EVENT_LISTENER__INTERVAL sets a part of it; give the whole object as JSON or set its parts only`}},
		{"a variable one letter from a setting", input{env: append([]string{"OCEAN__EVENT_LISTNER__TYPE=ONCE", "OCEAN__PORT__CLIENTID=x"}, valid...)},
			[]string{
				"env OCEAN__PORT__CLIENTID: port.clientid: unknown setting; did you mean OCEAN__PORT__CLIENT_ID? (a variable one letter from a setting is refused: that setting would silently keep its default)",
				"env OCEAN__EVENT_LISTNER__TYPE: event_listner: unknown setting; did you mean OCEAN__EVENT_LISTENER__TYPE? (a variable one letter from a setting is refused: that setting would silently keep its default)",
			}},
		// Two letters swapped is one typo too (TPYE, CLEINT).
		{"a variable with two letters swapped", input{env: append([]string{"OCEAN__EVENT_LISTENER__TPYE=ONCE"}, valid...)},
			[]string{
				"env OCEAN__EVENT_LISTENER__TPYE: eventListener.tpye: unknown setting; did you mean OCEAN__EVENT_LISTENER__TYPE? (a variable one letter from a setting is refused: that setting would silently keep its default)",
			}},
		{"an identifier too long for Port's headers", input{env: append([]string{"OCEAN__INTEGRATION__IDENTIFIER=" + strings.Repeat("x", 100_000)}, valid...)},
			[]string{"env OCEAN__INTEGRATION__IDENTIFIER: integration.identifier: is 100000 characters long, more than the 1000 allowed: it goes into the URLs and headers of every Port request"}},
		{"a type too long", input{yaml: "integration:\n  type: " + strings.Repeat("t", 101) + "\n", env: valid[:2]},
			[]string{"config.yaml:2:9: integration.type: is 101 characters long, more than the 100 allowed: it goes into the URLs and headers of every Port request"}},
		{"a control character in the identifier", input{env: append([]string{"OCEAN__INTEGRATION__IDENTIFIER=my\nid"}, valid...)},
			[]string{"env OCEAN__INTEGRATION__IDENTIFIER: integration.identifier: contains a control character (at byte 2), which no URL or HTTP header may carry"}},
		{"list expected", input{yaml: "jqEnvAllowList: {a: 1}\n", env: valid},
			[]string{`config.yaml:1:1: jqEnvAllowList: must be a list (or a comma-separated string), got an object`}},
		{"string expected", input{yaml: "stateDir: [a, b]\n", env: valid},
			[]string{`config.yaml:1:1: stateDir: must be a string, got a list`}},
		{"a sensitive list is not shown", input{yaml: "port:\n  clientId: id-value\n  clientSecret: [s3cr3t-value]\n", env: valid[2:]},
			[]string{`config.yaml:3:3: port.clientSecret: must be a string, got a list`}},
		{"a sensitive value of the wrong type is not shown", input{yaml: "liveEvents:\n  redis:\n    password: 12345678\n    privateKey: {my-password: x}\n", env: valid},
			[]string{`config.yaml:4:5: liveEvents.redis.privateKey: must be a string, got an object`}},
		{"required settings", input{},
			[]string{
				"port.clientId: required: set port.clientId in config.yaml or OCEAN__PORT__CLIENT_ID",
				"port.clientSecret: required: set port.clientSecret in config.yaml or OCEAN__PORT__CLIENT_SECRET",
				"integration.type: required: set integration.type in config.yaml or OCEAN__INTEGRATION__TYPE",
			}},
		{"required but empty", input{yaml: "port:\n  clientId: ''\n", env: valid[1:]},
			[]string{"config.yaml:2:13: port.clientId: required, but empty"}},
		{"base URL", input{yaml: "port:\n  baseUrl: api.getport.io\n", env: valid},
			[]string{`config.yaml:2:12: port.baseUrl: must be an http(s) URL, got "api.getport.io"`}},
		{"a URL's password is not shown", input{yaml: "port:\n  baseUrl: ftp://u:s3cr3t@x\n", env: valid},
			[]string{`config.yaml:2:12: port.baseUrl: must be an http(s) URL, got "ftp://u:[REDACTED]@x"`}},
		{"listener type", input{env: append([]string{"OCEAN__EVENT_LISTENER__TYPE=carrier_pigeon"}, valid...)},
			[]string{`env OCEAN__EVENT_LISTENER__TYPE: eventListener.type: must be POLLING, WEBHOOK, KAFKA or ONCE, got "CARRIER_PIGEON"`}},
		{"listener type Ocean has and oceand has not", input{yaml: "eventListener:\n  type: WEBHOOKS_ONLY\n", env: valid},
			[]string{`config.yaml:2:9: eventListener.type: WEBHOOKS_ONLY is not supported: oceand does not process live events or actions yet`}},
		{"WEBHOOK needs appHost", input{yaml: "eventListener:\n  type: WEBHOOK\n", env: valid},
			[]string{"eventListener.appHost: required: set eventListener.appHost in config.yaml or OCEAN__EVENT_LISTENER__APP_HOST"}},
		{"WEBHOOK appHost is a URL, never shown", input{yaml: "eventListener:\n  type: WEBHOOK\n  appHost: hidden-host\n", env: valid},
			[]string{"config.yaml:3:12: eventListener.appHost: must be an http(s) URL (the value is hidden: the setting is sensitive)"}},
		{"positive numbers", input{yaml: "eventListener:\n  interval: 0\nport:\n  maxConcurrentRequests: -1\njobHistoryLimit: 0\nscheduledResyncInterval: -5\n", env: valid},
			[]string{
				"config.yaml:2:13: eventListener.interval: must be at least 1, got 0",
				"config.yaml:5:18: jobHistoryLimit: must be at least 1, got 0",
				"config.yaml:4:26: port.maxConcurrentRequests: must be at least 1, got -1",
				"config.yaml:6:26: scheduledResyncInterval: must be 0 (no scheduled resync) or a number of minutes, got -5",
			}},
		{"choices", input{yaml: "resyncPolicy: later\nlogFormat: xml\nlogLevel: loud\n", env: valid},
			[]string{
				`config.yaml:1:15: resyncPolicy: must be supersede, queue or skip, got "later"`,
				`config.yaml:2:12: logFormat: must be auto, text or json, got "xml"`,
				`config.yaml:3:11: logLevel: must be debug, info, warning, warn, error or critical, got "loud"`,
			}},
		{"listen port", input{env: append([]string{"APPLICATION__PORT=70000"}, valid...)},
			[]string{"env APPLICATION__PORT: application.port: must be a TCP port (1-65535, or 0 for any free one), got 70000"}},
		{"unclosed quote in .env", input{dotenv: "OCEAN__STATE_DIR=\"/x\n", env: valid},
			[]string{".env:1 OCEAN__STATE_DIR: quoted value is never closed; ignored"}},
		{"every problem at once", input{yaml: "eventListener:\n  interval: soon\n  type: nope\nport:\n  baseUrl: ftp://x\n"},
			[]string{
				`config.yaml:2:13: eventListener.interval: must be an integer, got "soon"`,
				"port.clientId: required: set port.clientId in config.yaml or OCEAN__PORT__CLIENT_ID",
				"port.clientSecret: required: set port.clientSecret in config.yaml or OCEAN__PORT__CLIENT_SECRET",
				"integration.type: required: set integration.type in config.yaml or OCEAN__INTEGRATION__TYPE",
				`config.yaml:5:12: port.baseUrl: must be an http(s) URL, got "ftp://x"`,
				`config.yaml:3:9: eventListener.type: must be POLLING, WEBHOOK, KAFKA or ONCE, got "NOPE"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := allProblems(t, tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, p := range got {
				for _, secret := range []string{"s3cr3t", "secret-value", "hidden-host", "my-password"} {
					if strings.Contains(p, secret) && !strings.Contains(tt.name, "not shown") {
						t.Errorf("problem shows a secret: %s", p)
					}
				}
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := config.Load(config.LoadOptions{ConfigFile: filepath.Join(dir, "missing.yaml")})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml: no such file or directory") {
		t.Errorf("missing --config file: %v", err)
	}
	// Without --config a missing config.yaml is an empty one.
	s, err := config.Load(config.LoadOptions{Dir: dir, Environ: valid})
	if err != nil || s.Port.ClientID != "id-value" {
		t.Errorf("no config.yaml: %v", err)
	}
	// A given file may have any name.
	path := filepath.Join(dir, "oceand.yml")
	if err := os.WriteFile(path, []byte("stateDir: /var/lib/oceand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = config.Load(config.LoadOptions{ConfigFile: path})
	if err != nil || s.StateDir != "/var/lib/oceand" {
		t.Errorf("--config file: %v %q", err, s.StateDir)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   input
		want []string
	}{
		{"unknown top-level key", input{yaml: "evenListener:\n  type: ONCE\n"},
			[]string{"config.yaml:1:1: evenListener: unknown setting, ignored; did you mean eventListener?"}},
		{"a nested setting at the top level", input{yaml: "clientSecret: x\n"},
			[]string{"config.yaml:1:1: clientSecret: unknown setting, ignored; did you mean port.clientSecret?"}},
		{"unknown nested key", input{yaml: "port:\n  clientSecrett: x\n"},
			[]string{"config.yaml:2:3: port.clientSecrett: unknown setting, ignored; did you mean port.clientSecret?"}},
		{"nothing close", input{yaml: "zzz: 1\n"},
			[]string{"config.yaml:1:1: zzz: unknown setting, ignored"}},
		{"unknown variable", input{env: []string{"OCEAN__PORT__CLIENTIDD=x"}},
			[]string{"env OCEAN__PORT__CLIENTIDD: port.clientidd: unknown setting, ignored; did you mean OCEAN__PORT__CLIENT_ID?"}},
		{"unknown variable one letter from an object that has no such setting", input{env: []string{"OCEAN__PORTT__X=1"}},
			[]string{"env OCEAN__PORTT__X: portt: unknown setting, ignored; did you mean OCEAN__PORT?"}},
		{"unknown key in a JSON variable", input{env: []string{`OCEAN__EVENT_LISTENER={"intervall": 5}`}},
			[]string{"env OCEAN__EVENT_LISTENER: eventListener.intervall: unknown setting, ignored; did you mean eventListener.interval?"}},
		{"variables of other programs are not ours", input{env: []string{"HOME=/root", "OCEANX=1", "OCEAN_PORT=1"}}, nil},
		{"empty name part", input{env: []string{"OCEAN__PORT____CLIENT_ID=x"}},
			[]string{"env OCEAN__PORT____CLIENT_ID: OCEAN__PORT____CLIENT_ID: empty name between __ separators; ignored"}},
		{"second YAML document", input{yaml: "logLevel: info\n---\nlogLevel: debug\n"},
			[]string{"config.yaml:2:1: a second YAML document; only the first is read"}},
		{"duplicate YAML key", input{yaml: "logLevel: info\nport:\n  baseUrl: x\nlogLevel: debug\n"},
			[]string{`config.yaml:4:1: key "logLevel" is written twice, on lines 1 and 4; the second is used, as Ocean (PyYAML) does`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := read(t, tt.in)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			if got := problemLines(s.Warnings()); !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}
