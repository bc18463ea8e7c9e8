package config_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"oceand/config"
	"oceand/logging"
)

// testSpec declares one integration.config setting of every type.
const testSpec = `
title: test source
configurations:
  - name: apiUrl
    type: url
    required: true
  - name: apiToken
    type: string
    required: true
    sensitive: true
  - name: pageSize
    type: integer
    default: 100
  - name: verifySsl
    type: boolean
    default: true
  - name: customAuthRequest
    type: object
    description: extra keys are allowed
  - name: projects
    type: array
    default: []
  - name: thirdPartyLatencyMS
    type: integer
  - name: pin
    type: integer
    sensitive: true
`

// withSpec loads in and applies testSpec, returning the settings and the
// problems of both steps.
func withSpec(t *testing.T, in input) (*config.Settings, []string) {
	t.Helper()
	s, problems := read(t, in)
	return s, append(problems, problemLines(config.ProblemsOf(s.ApplySpec([]byte(testSpec))))...)
}

func TestSpecTypesAndDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   input
		want string
	}{
		{"from config.yaml", input{yaml: `integration:
  config:
    apiUrl: https://api.example.com/v2/
    apiToken: tok-1234
    pageSize: 50
    verifySsl: no
    customAuthRequest:
      endpoint: /oauth/token
      body: {clientId: abc, scope: [read, write]}
    projects: [a, b]
    thirdPartyLatencyMS: 5
`}, `{"api_token":"tok-1234","api_url":"https://api.example.com/v2","custom_auth_request":{"body":{"clientId":"abc","scope":["read","write"]},"endpoint":"/oauth/token"},"page_size":50,"projects":["a","b"],"third_party_latency_ms":5,"verify_ssl":false}`},
		{"from the environment, strings coerced", input{env: []string{
			"OCEAN__INTEGRATION__CONFIG__API_URL=http://localhost:8080//",
			"OCEAN__INTEGRATION__CONFIG__API_TOKEN=tok-1234",
			"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE= 250 ",
			"OCEAN__INTEGRATION__CONFIG__VERIFY_SSL=off",
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"method": "GET"}`,
			`OCEAN__INTEGRATION__CONFIG__PROJECTS=["x"]`,
			"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS=7",
		}}, `{"api_token":"tok-1234","api_url":"http://localhost:8080","custom_auth_request":{"method":"GET"},"page_size":250,"projects":["x"],"third_party_latency_ms":7,"verify_ssl":false}`},
		{"whole config as JSON, defaults filled in", input{env: []string{
			`OCEAN__INTEGRATION__CONFIG={"apiUrl": "https://x.io", "api_token": "tok-1234"}`,
		}}, `{"api_token":"tok-1234","api_url":"https://x.io","page_size":100,"projects":[],"verify_ssl":true}`},
		{"nested variable into a JSON object variable", input{env: []string{
			`OCEAN__INTEGRATION__CONFIG={"apiUrl": "https://x.io", "api_token": "tok-1234"}`,
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"method": "GET", "headers": {"X-Key": "k"}}`,
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST__METHOD=POST`,
		}}, `{"api_token":"tok-1234","api_url":"https://x.io","custom_auth_request":{"headers":{"X-Key":"k"},"method":"POST"},"page_size":100,"projects":[],"verify_ssl":true}`},
		{"yaml and env merged key by key", input{
			yaml: "integration:\n  config:\n    apiUrl: https://x.io\n    pageSize: 1\n",
			env:  []string{"OCEAN__INTEGRATION__CONFIG__API_TOKEN=tok-1234", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"},
		}, `{"api_token":"tok-1234","api_url":"https://x.io","page_size":2,"projects":[],"verify_ssl":true}`},
		{"an empty variable is unset", input{env: []string{
			"OCEAN__INTEGRATION__CONFIG__API_URL=https://x.io", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=tok-1234",
			"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=",
		}}, `{"api_token":"tok-1234","api_url":"https://x.io","page_size":100,"projects":[],"verify_ssl":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := withSpec(t, tt.in)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			if got := jsonOf(t, s.Integration.Config); got != tt.want {
				t.Errorf("integration.config =\n  %s\nwant\n  %s", got, tt.want)
			}
			if n, ok := s.Integration.Config["page_size"].(int); !ok || n < 1 {
				t.Errorf("page_size is %T %v, want a Go int", s.Integration.Config["page_size"], s.Integration.Config["page_size"])
			}
			// Applying the spec again changes nothing.
			before := jsonOf(t, s.Integration.Config)
			if err := s.ApplySpec([]byte(testSpec)); err != nil || jsonOf(t, s.Integration.Config) != before {
				t.Errorf("second ApplySpec: %v, config %s", err, jsonOf(t, s.Integration.Config))
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	t.Parallel()
	base := []string{"OCEAN__INTEGRATION__CONFIG__API_URL=https://x.io", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=tok-1234"}
	tests := []struct {
		name string
		in   input
		want []string
	}{
		{"required", input{}, []string{
			"integration.config.apiUrl: required: set integration.config.apiUrl in config.yaml or OCEAN__INTEGRATION__CONFIG__API_URL",
			"integration.config.apiToken: required: set integration.config.apiToken in config.yaml or OCEAN__INTEGRATION__CONFIG__API_TOKEN",
		}},
		{"required, template variable unset", input{yaml: "integration:\n  config:\n    apiUrl: https://x.io\n    apiToken: '{{ from env API_TOKEN }}'\n"}, []string{
			"integration.config.apiToken: required; config.yaml:4:15 reads env API_TOKEN, which is not set",
		}},
		{"each type", input{yaml: `integration:
  config:
    apiUrl: not a url
    apiToken: [tok-1234]
    pageSize: many
    verifySsl: perhaps
    customAuthRequest: [1]
    projects: {a: 1}
    thirdPartyLatencyMS: 1.5
    pin: secret-pin
`}, []string{
			`config.yaml:3:13: integration.config.apiUrl: must be an http(s) URL, got "not a url"`,
			`config.yaml:4:5: integration.config.apiToken: must be a string, got a list`,
			`config.yaml:5:15: integration.config.pageSize: must be an integer, got "many"`,
			`config.yaml:6:16: integration.config.verifySsl: must be a boolean (true or false), got "perhaps"`,
			`config.yaml:7:5: integration.config.customAuthRequest: must be an object (or a JSON object string), got a list`,
			`config.yaml:8:5: integration.config.projects: must be a list (or a JSON array string), got an object`,
			`config.yaml:9:26: integration.config.thirdPartyLatencyMS: must be an integer, got 1.5`,
			`config.yaml:10:10: integration.config.pin: must be an integer, got a string (value hidden: the setting is sensitive)`,
		}},
		{"from the environment", input{env: append([]string{
			"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=ten",
			`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"broken`,
		}, base...)}, []string{
			`env OCEAN__INTEGRATION__CONFIG__PAGE_SIZE: integration.config.pageSize: must be an integer, got "ten"`,
			`env OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST: integration.config.customAuthRequest: must be an object (or a JSON object string), got "{\"broken"`,
		}},
		{"a variable one letter from a field is refused", input{env: append([]string{"OCEAN__INTEGRATION__CONFIG__PAGESIZE=5"}, base...)}, []string{
			"env OCEAN__INTEGRATION__CONFIG__PAGESIZE: integration.config.pagesize: not a setting of this source; did you mean OCEAN__INTEGRATION__CONFIG__PAGE_SIZE? (a variable one letter from a setting is refused: that setting would silently keep its default)",
		}},
		{"a bare slash is no URL", input{env: []string{"OCEAN__INTEGRATION__CONFIG__API_URL=/", "OCEAN__INTEGRATION__CONFIG__API_TOKEN=tok-1234"}}, []string{
			`env OCEAN__INTEGRATION__CONFIG__API_URL: integration.config.apiUrl: must be an http(s) URL, got "/"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := withSpec(t, tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, p := range got {
				if strings.Contains(p, "tok-1234") || strings.Contains(p, "secret-pin") {
					t.Errorf("problem shows a secret: %s", p)
				}
			}
		})
	}
}

func TestSpecUnknownKeys(t *testing.T) {
	t.Parallel()
	s, problems := withSpec(t, input{
		yaml: "integration:\n  config:\n    apiUrl: https://x.io\n    apiToken: tok-1234\n    pageSise: 5\n    extra: {keep: me}\n",
		env:  []string{"OCEAN__INTEGRATION__CONFIG__VERIFYSSLL=false"},
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	want := []string{
		"config.yaml:6:5: integration.config.extra: not a setting of this source (see its spec); passed on as given",
		"config.yaml:5:15: integration.config.pageSise: not a setting of this source (see its spec); passed on as given; did you mean integration.config.pageSize?",
		"env OCEAN__INTEGRATION__CONFIG__VERIFYSSLL: integration.config.verifyssll: not a setting of this source (see its spec); passed on as given; did you mean OCEAN__INTEGRATION__CONFIG__VERIFY_SSL?",
	}
	if got := problemLines(s.Warnings()); !slices.Equal(got, want) {
		t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if got := jsonOf(t, s.Integration.Config["extra"]); got != `{"keep":"me"}` {
		t.Errorf("unknown key not passed on: %s", got)
	}
}

func TestSpecDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, want string
	}{
		{"unknown type", "configurations:\n  - name: a\n    type: int\n", `integration.config: the source's spec: configurations[0] (a): unknown type "int"; use string, integer, boolean, url, object, array`},
		{"default of the wrong type", "configurations:\n  - name: a\n    type: integer\n    default: ten\n", "integration.config: the source's spec: configurations[0] (a): default ten is not an integer"},
		{"no name", "configurations:\n  - type: string\n", "integration.config: the source's spec: configurations[0]: name is required"},
		{"declared twice", "configurations:\n  - {name: apiUrl, type: url}\n  - {name: api_url, type: url}\n", "integration.config: the source's spec: configurations[1] (api_url): declared twice"},
		{"not a list", "configurations: {a: 1}\n", "integration.config: the source's spec: configurations: must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := read(t, input{})
			got := problemLines(config.ProblemsOf(s.ApplySpec([]byte(tt.spec))))
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("ApplySpec = %q, want %q", got, tt.want)
			}
		})
	}
	// spec.json works as well as spec.yaml; an empty spec accepts anything.
	s, _ := read(t, input{env: []string{"OCEAN__INTEGRATION__CONFIG__N=5", "OCEAN__INTEGRATION__CONFIG__OTHER=x"}})
	if err := s.ApplySpec([]byte(`{"configurations": [{"name": "n", "type": "integer"}]}`)); err != nil || s.Integration.Config["n"] != 5 {
		t.Errorf("spec.json: %v %v", err, s.Integration.Config)
	}
	s, _ = read(t, input{env: []string{"OCEAN__INTEGRATION__CONFIG__N=5"}})
	if err := s.ApplySpec(nil); err != nil || s.Integration.Config["n"] != "5" {
		t.Errorf("no spec: %v %v", err, s.Integration.Config)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	secrets := []string{"port-client-id", "port-client-secret", "https://hooks.example/abc", "tok-1234", "987654321", "nested-pass", "redis-pass", "ghp_personal_token", "url-pass%40x", "url-pass@x"}
	s, problems := withSpec(t, input{
		yaml: `port:
  clientId: port-client-id
  clientSecret: "{{ from env PORT_SECRET }}"
eventListener:
  appHost: https://hooks.example/abc
integration:
  config:
    apiUrl: https://api.example
    apiToken: tok-1234
    pin: 987654321
    customAuthRequest:
      body: {user: me, password: nested-pass}
      enabled: "true"
liveEvents:
  redis:
    password: redis-pass
    url: redis://user:url-pass%40x@localhost:6379/0
`,
		env: []string{"PORT_SECRET=port-client-secret", "OCEAN__INTEGRATION__CONFIG__GITHUB_TOKEN=ghp_personal_token"},
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	got := s.Secrets()
	for _, want := range secrets {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q: %q", want, got)
		}
	}
	if slices.Contains(got, "true") || slices.Contains(got, "me") {
		t.Errorf("Secrets() has values that are not secrets: %q", got)
	}
	b, err := json.Marshal(s.Entries())
	if err != nil {
		t.Fatal(err)
	}
	printed := string(b)
	for _, secret := range secrets {
		if strings.Contains(printed, secret) {
			t.Errorf("Entries show %q", secret)
		}
	}
	if !strings.Contains(printed, `"user":"me"`) || !strings.Contains(printed, logging.Mask) {
		t.Errorf("Entries mask too much or nothing: %s", printed)
	}
	e := entry(t, s, "integration.config.apiToken")
	if !e.Sensitive || e.Value != logging.Mask || !strings.HasSuffix(e.Source.String(), "config.yaml:9:15") {
		t.Errorf("apiToken entry = %+v", e)
	}
	e = entry(t, s, "port.clientSecret")
	if !strings.HasSuffix(e.Source.String(), "config.yaml:3:17 (env PORT_SECRET)") {
		t.Errorf("clientSecret source = %s", e.Source)
	}
}

func TestSettingsBuiltByHand(t *testing.T) {
	t.Parallel()
	// Settings not made by Load still validate, print and take a spec.
	s := &config.Settings{}
	if err := s.Validate(); err == nil {
		t.Error("empty settings are valid")
	}
	s.Integration.Config = map[string]any{"api_url": "https://x.io/", "api_token": "tok-1234"}
	if err := s.ApplySpec([]byte(testSpec)); err != nil {
		t.Fatal(err)
	}
	if s.Integration.Config["api_url"] != "https://x.io" || !slices.Contains(s.Secrets(), "tok-1234") {
		t.Errorf("config %v secrets %v", s.Integration.Config, s.Secrets())
	}
	if len(s.Entries()) == 0 || !reflect.DeepEqual(s.Warnings(), []config.Problem(nil)) {
		t.Errorf("entries %d warnings %v", len(s.Entries()), s.Warnings())
	}
}

// A sensitive object (the custom source's customAuthRequest,
// customAuthRequestTemplate, customHeaders) has every string inside it
// redacted, however deep and however given (YAML or a JSON env string),
// but for HTTP method names, which are no secret and would otherwise
// mask the method in every log line.
func TestSensitiveObjectRedactsEveryString(t *testing.T) {
	t.Parallel()
	const objectSpec = `
configurations:
  - name: customAuthRequest
    type: object
    sensitive: true
  - name: customHeaders
    type: object
    sensitive: true
`
	s, problems := read(t, input{
		yaml: `integration:
  config:
    customAuthRequest:
      endpoint: /oauth/token?audience=deep-audience
      method: POST
      body: {client: {id: client-name-1, keys: [list-secret-1, 424242]}, grant: client_credentials}
`,
		env: append([]string{`OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS={"X-Api-Token": "env-header-secret", "X-Team": "team-blue"}`}, valid...),
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if err := s.ApplySpec([]byte(objectSpec)); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"/oauth/token?audience=deep-audience", "client-name-1", "list-secret-1", "424242", "client_credentials", "env-header-secret", "team-blue"}
	got := s.Secrets()
	for _, want := range secrets {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q: %q", want, got)
		}
	}
	if slices.Contains(got, "POST") {
		t.Errorf("Secrets() has the method POST: %q", got)
	}
	b, err := json.Marshal(s.Entries())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secrets {
		if strings.Contains(string(b), secret) {
			t.Errorf("config print shows %q: %s", secret, b)
		}
	}
	red := logging.NewRedactor(s.Secrets()...)
	line := red.String(`POST /oauth/token?audience=deep-audience with {"id":"client-name-1","k":"list-secret-1"} X-Team: team-blue`)
	if line != `POST [REDACTED] with {"id":"[REDACTED]","k":"[REDACTED]"} X-Team: [REDACTED]` {
		t.Errorf("log line = %s", line)
	}
}
