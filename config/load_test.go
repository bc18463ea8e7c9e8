package config_test

import (
	"slices"
	"strings"
	"testing"

	"oceand/config"
)

func TestPrecedence(t *testing.T) {
	t.Parallel()
	const (
		yaml   = "eventListener:\n  interval: 10\n"
		dotenv = "OCEAN__EVENT_LISTENER__INTERVAL=20\n"
		env    = "OCEAN__EVENT_LISTENER__INTERVAL=30"
	)
	flag := map[string]string{"event_listener.interval": "40"}
	tests := []struct {
		name string
		in   input
		want int
		from string
	}{
		{"default", input{}, 60, "default"},
		{"config.yaml over default", input{yaml: yaml}, 10, "config.yaml:2:13"},
		{".env over config.yaml", input{yaml: yaml, dotenv: dotenv}, 20, ".env:1 OCEAN__EVENT_LISTENER__INTERVAL"},
		{"env over .env", input{yaml: yaml, dotenv: dotenv, env: []string{env}}, 30, "env OCEAN__EVENT_LISTENER__INTERVAL"},
		{"flag over env", input{yaml: yaml, dotenv: dotenv, env: []string{env}, flags: flag}, 40, "flag"},
		{"flag over config.yaml", input{yaml: yaml, flags: flag}, 40, "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := read(t, tt.in)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			if s.EventListener.Interval != tt.want {
				t.Errorf("interval = %d, want %d", s.EventListener.Interval, tt.want)
			}
			if got := entry(t, s, "eventListener.interval").Source.String(); !strings.HasSuffix(got, tt.from) {
				t.Errorf("source = %s, want %s", got, tt.from)
			}
		})
	}
}

func TestDeepMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		in            input
		typ           string
		interval      int
		resyncOnStart bool
	}{
		{"yaml object and a nested variable", input{
			yaml: "eventListener:\n  type: POLLING\n  interval: 30\n  resyncOnStart: false\n",
			env:  []string{"OCEAN__EVENT_LISTENER__INTERVAL=99"},
		}, "POLLING", 99, false},
		{"JSON object and a nested variable: the nested one wins", input{
			env: []string{"OCEAN__EVENT_LISTENER__INTERVAL=5", `OCEAN__EVENT_LISTENER={"type":"KAFKA","interval":1}`},
		}, "KAFKA", 5, true},
		{"JSON object merged over yaml", input{
			yaml: "eventListener:\n  interval: 30\n  resyncOnStart: false\n",
			env:  []string{`OCEAN__EVENT_LISTENER={"type":"ONCE"}`},
		}, "ONCE", 30, false},
		{"JSON object with snake_case keys", input{
			env: []string{`OCEAN__EVENT_LISTENER={"type":"once","resync_on_start":"no"}`},
		}, "ONCE", 60, false},
		{".env JSON object and a real nested variable", input{
			dotenv: `OCEAN__EVENT_LISTENER='{"type": "KAFKA", "interval": 7}'` + "\n",
			env:    []string{"OCEAN__EVENT_LISTENER__TYPE=POLLING"},
		}, "POLLING", 7, true},
		{"yaml null keeps the default", input{
			yaml: "eventListener:\n  interval: ~\n",
		}, "POLLING", 60, true},
		{"an empty variable keeps the default", input{
			yaml: "eventListener:\n  interval: 30\n",
			env:  []string{"OCEAN__EVENT_LISTENER__INTERVAL="},
		}, "POLLING", 60, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := read(t, tt.in)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			el := s.EventListener
			if el.Type != tt.typ || el.Interval != tt.interval || el.ResyncOnStart != tt.resyncOnStart {
				t.Errorf("eventListener = {%s %d %v}, want {%s %d %v}", el.Type, el.Interval, el.ResyncOnStart, tt.typ, tt.interval, tt.resyncOnStart)
			}
		})
	}
}

func TestCoercion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"yes", true}, {"Yes", true}, {"on", true}, {"1", true}, {"y", true}, {"t", true},
		{"false", false}, {"no", false}, {"OFF", false}, {"0", false}, {"n", false}, {"f", false}, {" off ", false},
	} {
		s, problems := read(t, input{env: []string{"OCEAN__INITIALIZE_PORT_RESOURCES=" + tt.raw}})
		if len(problems) > 0 || s.InitializePortResources != tt.want {
			t.Errorf("initializePortResources %q = %v (problems %v), want %v", tt.raw, s.InitializePortResources, problems, tt.want)
		}
	}
	s, problems := read(t, input{yaml: "initializePortResources: yes\nscheduledResyncInterval: ' 42 '\njqEnvAllowList: [HOME, USER]\n"})
	if len(problems) > 0 || !s.InitializePortResources || s.ScheduledResyncInterval != 42 || !slices.Equal(s.JQEnvAllowList, []string{"HOME", "USER"}) {
		t.Errorf("yaml coercion: %v %d %v %v", s.InitializePortResources, s.ScheduledResyncInterval, s.JQEnvAllowList, problems)
	}
	s, _ = read(t, input{env: []string{`OCEAN__EVENT_LISTENER__BROKERS=["b1:9092","b2:9092"]`, "OCEAN__MAX_EVENT_PROCESSING_SECONDS=2.5"}})
	if !slices.Equal(s.EventListener.Brokers, []string{"b1:9092", "b2:9092"}) || s.MaxEventProcessingSeconds != 2.5 {
		t.Errorf("brokers %v, maxEventProcessingSeconds %v", s.EventListener.Brokers, s.MaxEventProcessingSeconds)
	}
}

func TestDerivedValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    input
		check func(*config.Settings) bool
	}{
		{"identifier from the type, type lower-cased", input{env: []string{"OCEAN__INTEGRATION__TYPE=Fake"}},
			func(s *config.Settings) bool {
				return s.Integration.Type == "fake" && s.Integration.Identifier == "my-fake-integration"
			}},
		{"a given identifier is kept", input{yaml: "integration:\n  identifier: My-Id\n  type: fake\n"},
			func(s *config.Settings) bool { return s.Integration.Identifier == "My-Id" }},
		{"listener type upper-cased", input{env: []string{"OCEAN__EVENT_LISTENER__TYPE=once"}},
			func(s *config.Settings) bool { return s.EventListener.Type == config.ListenerOnce }},
		{"base URL without trailing slash", input{yaml: "port:\n  baseUrl: ' https://api.port.io/ '\n"},
			func(s *config.Settings) bool { return s.Port.BaseURL == "https://api.port.io" }},
		{"APPLICATION__LOG_LEVEL when logLevel is unset", input{env: []string{"APPLICATION__LOG_LEVEL=DEBUG"}},
			func(s *config.Settings) bool { return s.LogLevel == "DEBUG" }},
		{"APPLICATION__LOG_LEVEL from .env", input{dotenv: "APPLICATION__LOG_LEVEL=error\n"},
			func(s *config.Settings) bool { return s.LogLevel == "error" }},
		{"OCEAN__LOG_LEVEL wins over APPLICATION__LOG_LEVEL", input{env: []string{"APPLICATION__LOG_LEVEL=DEBUG", "OCEAN__LOG_LEVEL=warning"}},
			func(s *config.Settings) bool { return s.LogLevel == "warning" }},
		{"a flag wins over APPLICATION__LOG_LEVEL", input{env: []string{"APPLICATION__LOG_LEVEL=DEBUG"}, flags: map[string]string{"log_level": "error"}},
			func(s *config.Settings) bool { return s.LogLevel == "error" }},
		{"APPLICATION__PORT", input{env: []string{"APPLICATION__PORT=9000"}},
			func(s *config.Settings) bool { return s.Application.Port == 9000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := read(t, tt.in)
			if len(problems) > 0 || !tt.check(s) {
				t.Errorf("unexpected settings (problems %v): %+v", problems, s)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	const yaml = `port:
  clientId: "{{ from env PORT_CLIENT_ID }}"
  clientSecret: '{{from env PORT_CLIENT_SECRET}}'
eventListener:
  interval: "{{ from env POLL_SECONDS }}"
integration:
  type: fake
  config:
    auth:
      headers:
        Authorization: "{{ from env AUTH_HEADER }}"
      scopes: ["{{ from env SCOPE }}", fixed]
    template: "{{ .access_token }}"
`
	tests := []struct {
		name     string
		in       input
		clientID string
		interval int
		config   string
		problems []string
		warnings []string
	}{
		{
			name:     "every variable set",
			in:       input{yaml: yaml, env: []string{"PORT_CLIENT_ID=id-1", "PORT_CLIENT_SECRET=secret-1", "POLL_SECONDS=15", "AUTH_HEADER=Bearer abcd", "SCOPE=read"}},
			clientID: "id-1", interval: 15,
			config: `{"auth":{"headers":{"Authorization":"Bearer abcd"},"scopes":["read","fixed"]},"template":"{{ .access_token }}"}`,
		},
		{
			name:     "variables from .env",
			in:       input{yaml: yaml, dotenv: "PORT_CLIENT_ID=from-dotenv\n", env: []string{"PORT_CLIENT_SECRET=s", "POLL_SECONDS=15", "AUTH_HEADER=x", "SCOPE=y"}},
			clientID: "from-dotenv", interval: 15,
			config: `{"auth":{"headers":{"Authorization":"x"},"scopes":["y","fixed"]},"template":"{{ .access_token }}"}`,
		},
		{
			name:     "unset variables: optional ones warn and keep their default",
			in:       input{yaml: yaml, env: []string{"PORT_CLIENT_ID=id-1", "PORT_CLIENT_SECRET=secret-1"}},
			clientID: "id-1", interval: 60,
			config: `{"auth":{"headers":{},"scopes":["fixed"]},"template":"{{ .access_token }}"}`,
			warnings: []string{
				"config.yaml:5:13: eventListener.interval: reads env POLL_SECONDS, which is not set; the default applies",
				"config.yaml:11:24: integration.config.auth.headers.Authorization: reads env AUTH_HEADER, which is not set; the default applies",
				"config.yaml:12:16: integration.config.auth.scopes[0]: reads env SCOPE, which is not set; the default applies",
			},
		},
		{
			name:     "an environment override means the template is not read",
			in:       input{yaml: yaml, env: []string{"OCEAN__PORT__CLIENT_ID=from-env", "PORT_CLIENT_SECRET=s", "OCEAN__EVENT_LISTENER__INTERVAL=5", "OCEAN__INTEGRATION__CONFIG={}"}},
			clientID: "from-env", interval: 5,
			config: `{"auth":{"headers":{},"scopes":["fixed"]},"template":"{{ .access_token }}"}`,
			warnings: []string{
				"config.yaml:11:24: integration.config.auth.headers.Authorization: reads env AUTH_HEADER, which is not set; the default applies",
				"config.yaml:12:16: integration.config.auth.scopes[0]: reads env SCOPE, which is not set; the default applies",
			},
		},
		{
			name: "malformed template and unknown provider",
			in:   input{yaml: "port:\n  clientId: '{{ from env }}'\n  clientSecret: '{{ from vault secret/port }}'\n"},
			problems: []string{
				`config.yaml:2:13: port.clientId: "{{ from env }}" is not a template; write {{ from env NAME }}`,
				`config.yaml:3:17: port.clientSecret: unknown template provider "vault"; only {{ from env NAME }} is supported`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, problems := read(t, tt.in)
			if !slices.Equal(problems, tt.problems) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tt.problems, "\n"))
			}
			if tt.problems != nil {
				return
			}
			if s.Port.ClientID != tt.clientID || s.EventListener.Interval != tt.interval {
				t.Errorf("clientId %q interval %d, want %q %d", s.Port.ClientID, s.EventListener.Interval, tt.clientID, tt.interval)
			}
			if got := jsonOf(t, s.Integration.Config); got != tt.config {
				t.Errorf("integration.config = %s\nwant %s", got, tt.config)
			}
			warnings := problemLines(s.Warnings())
			if !slices.Equal(warnings, tt.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.warnings, "\n"))
			}
			if err := s.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestUnsetTemplateOfARequiredSetting(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{yaml: "\n# Port\nport:\n  clientSecret: x-secret\n\n\n  clientId: \"{{ from env PORT_CLIENT_ID }}\"\nintegration:\n  type: fake\n"})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	want := "port.clientId: required; config.yaml:7:13 reads env PORT_CLIENT_ID, which is not set"
	if got := problemLines(config.ProblemsOf(s.Validate())); len(got) != 1 || got[0] != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}
	if w := s.Warnings(); len(w) > 0 {
		t.Errorf("a required setting's unset variable is also a warning: %v", w)
	}
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{
		yaml: "clientTimeout: 30\nstreaming:\n  enabled: true\neventListener:\n  interval: 5\n",
		env:  []string{"OCEAN__SSL__PORT__VERIFY=false", "APPLICATION__ENABLE_HTTP_LOGGING=false"},
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var keys []string
	for _, e := range s.Ignored() {
		keys = append(keys, e.Key)
		if e.Ignored == "" {
			t.Errorf("%s has no reason", e.Key)
		}
	}
	want := []string{"clientTimeout", "streaming.enabled", "ssl.port.verify"}
	if !slices.Equal(keys, want) {
		t.Errorf("ignored = %v, want %v", keys, want)
	}
	s, _ = read(t, input{})
	if ig := s.Ignored(); len(ig) > 0 {
		t.Errorf("defaults reported as ignored: %v", ig)
	}
}

// An Ocean config.yaml that spells defaults out is not warned about: a
// value equal to the default changes nothing.
func TestIgnoredNotWhenDefault(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{
		yaml: "runtime: OnPrem\nlakehouseEnabled: true\nstreaming:\n  enabled: false\n  chunkSize: 65536\nprocessExecutionMode: ''\neventWorkersCount: 2\n",
		env:  []string{"OCEAN__UPSERT_ENTITIES_BATCH_MAX_LENGTH=20", "OCEAN__MAX_EVENT_PROCESSING_SECONDS=90.0"},
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var keys []string
	for _, e := range s.Ignored() {
		keys = append(keys, e.Key)
	}
	if want := []string{"eventWorkersCount"}; !slices.Equal(keys, want) {
		t.Errorf("ignored = %v, want %v", keys, want)
	}
}

func TestDecamelize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"clientId":                "client_id",
		"thirdPartyLatencyMS":     "third_party_latency_ms",
		"baseURL":                 "base_url",
		"entityKBSize":            "entity_kb_size",
		"already_snake":           "already_snake",
		"x509":                    "x509",
		"ClientSecret":            "client_secret",
		"scheduledResyncInterval": "scheduled_resync_interval",
	} {
		if got := config.Decamelize(in); got != want {
			t.Errorf("Decamelize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDotEnv(t *testing.T) {
	t.Parallel()
	dotenv := "\ufeff# comment\n" +
		"export OCEAN__PORT__CLIENT_ID=plain-id # inline comment\n" +
		"OCEAN__PORT__CLIENT_SECRET=\"quoted \\\"secret\\\"\\nline2\"\n" +
		"OCEAN__STATE_DIR='/literal/${HOME}'\n" +
		"BASE=https://port.example\n" +
		"OCEAN__PORT__BASE_URL=${BASE}/api\n" +
		"OCEAN__INTEGRATION__IDENTIFIER=${MISSING:-fallback-id}\n" +
		"OCEAN__INTEGRATION__CONFIG__CERT=\"-----BEGIN\n" +
		"abc\n" +
		"-----END\"\n" +
		"not a setting line\n"
	s, problems := read(t, input{dotenv: dotenv, env: []string{"HOME=/home/x"}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	checks := map[string][2]string{
		"clientId":   {s.Port.ClientID, "plain-id"},
		"secret":     {s.Port.ClientSecret, "quoted \"secret\"\nline2"},
		"stateDir":   {s.StateDir, "/literal/${HOME}"},
		"baseUrl":    {s.Port.BaseURL, "https://port.example/api"},
		"identifier": {s.Integration.Identifier, "fallback-id"},
		"cert":       {s.Integration.Config["cert"].(string), "-----BEGIN\nabc\n-----END"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	w := s.Warnings()
	if len(w) != 1 || !strings.HasSuffix(w[0].String(), ".env:11: not a KEY=VALUE line; ignored") {
		t.Errorf("warnings = %v", w)
	}
	if got := entry(t, s, "integration.config.cert").Source.String(); !strings.HasSuffix(got, ".env:8 OCEAN__INTEGRATION__CONFIG__CERT") {
		t.Errorf("cert source = %s", got)
	}
	// Real variables win over .env.
	s, _ = read(t, input{dotenv: "OCEAN__STATE_DIR=/from/dotenv\n", env: []string{"OCEAN__STATE_DIR=/from/env"}})
	if s.StateDir != "/from/env" {
		t.Errorf("stateDir = %q, want the real variable's", s.StateDir)
	}
}

func TestIntegrationConfigAsJSONStringInYAML(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{yaml: "integration:\n  config: '{\"entityAmount\": 3, \"nested\": {\"keepCase\": 1}}'\n"})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if got := jsonOf(t, s.Integration.Config); got != `{"entity_amount":3,"nested":{"keepCase":1}}` {
		t.Errorf("integration.config = %s", got)
	}
}

// metrics.enabled is acted on (it serves /metrics, as Ocean); only the
// webhook push is ignored.
func TestMetricsEnabledIsNotIgnored(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{env: []string{"OCEAN__METRICS__ENABLED=true", "OCEAN__METRICS__WEBHOOK_URL=https://hooks.example.com/m"}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var keys []string
	for _, e := range s.Ignored() {
		keys = append(keys, e.Key)
	}
	if want := []string{"metrics.webhookUrl"}; !slices.Equal(keys, want) || !s.Metrics.Enabled {
		t.Errorf("ignored = %v, enabled %v; want %v and metrics.enabled true", keys, s.Metrics.Enabled, want)
	}
}
