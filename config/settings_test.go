package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"oceand/config"
)

// input is what one load reads: files in a fresh directory, the
// environment and flags.
type input struct {
	yaml, dotenv string
	env          []string
	flags        map[string]string
}

// read loads in, returning the settings and every problem as text with
// the temporary directory removed from file names.
func read(t *testing.T, in input) (*config.Settings, []string) {
	t.Helper()
	dir := t.TempDir()
	if in.yaml != "" {
		writeFile(t, filepath.Join(dir, "config.yaml"), in.yaml)
	}
	if in.dotenv != "" {
		writeFile(t, filepath.Join(dir, ".env"), in.dotenv)
	}
	s, err := config.Read(config.LoadOptions{Dir: dir, Environ: in.env, Flags: in.flags})
	if s == nil {
		t.Fatalf("Read returned no settings (error %v)", err)
	}
	return s, problemLines(config.ProblemsOf(err))
}

// tempDirRE matches the temporary directory before a file name.
var tempDirRE = regexp.MustCompile(`/\S*/(config\.yaml|\.env)`)

// problemLines shows problems as text, file names without their
// temporary directory.
func problemLines(problems []config.Problem) []string {
	var out []string
	for _, p := range problems {
		out = append(out, tempDirRE.ReplaceAllString(p.String(), "$1"))
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// entry finds one effective setting by its camelCase key.
func entry(t *testing.T, s *config.Settings, key string) config.Entry {
	t.Helper()
	for _, e := range s.Entries() {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("no setting %s", key)
	return config.Entry{}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envNameOf is the OCEAN__ variable of a camelCase setting key.
func envNameOf(key string) string {
	parts := strings.Split(key, ".")
	prefix := "OCEAN__"
	if parts[0] == "application" {
		prefix, parts = "APPLICATION__", parts[1:]
	}
	for i, p := range parts {
		parts[i] = strings.ToUpper(config.Decamelize(p))
	}
	return prefix + strings.Join(parts, "__")
}

// defaults are Ocean's defaults (reference/ocean-behavior.md §1.5, §1.6)
// and oceand's own, as `config print --json` shows them.
var defaults = []struct {
	key  string
	want string
}{
	{"port.clientId", `""`},
	{"port.clientSecret", `""`},
	{"port.baseUrl", `"https://api.getport.io"`},
	{"port.maxConcurrentRequests", `5`},
	{"port.portAppConfigCacheTtl", `60`},
	{"port.featureFlagsCacheTtlSeconds", `300`},
	{"port.blueprintCacheTtlSeconds", `120`},
	{"eventListener.type", `"POLLING"`},
	{"eventListener.shouldResync", `true`},
	{"eventListener.shouldProcessWebhooks", `true`},
	{"eventListener.shouldRunActions", `true`},
	{"eventListener.interval", `60`},
	{"eventListener.resyncOnStart", `true`},
	{"eventListener.appHost", `""`},
	{"eventListener.bindAddress", `"127.0.0.1"`},
	{"eventListener.webhookSecret", `""`},
	{"eventListener.brokers", `["b-1-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196","b-2-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196","b-3-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196"]`},
	{"eventListener.securityProtocol", `"SASL_SSL"`},
	{"eventListener.authenticationMechanism", `"SCRAM-SHA-512"`},
	{"eventListener.kafkaSecurityEnabled", `true`},
	{"eventListener.consumerPollTimeout", `1`},
	{"integration.identifier", `""`},
	{"integration.type", `""`},
	{"integration.config", `{}`},
	{"integration.incrementalSyncEnabled", `false`},
	{"integration.incrementalSyncInterval", `"15"`},
	{"initializePortResources", `true`},
	{"scheduledResyncInterval", `0`},
	{"scheduledResyncCron", `""`},
	{"allowEnvironmentVariablesJqAccess", `true`},
	{"statusHeartbeatIntervalSeconds", `10`},
	{"clientTimeout", `60`},
	{"createPortResourcesOrigin", `""`},
	{"sendRawDataExamples", `true`},
	{"oauthAccessTokenFilePath", `""`},
	{"baseUrl", `""`},
	{"pathPrefix", `""`},
	{"eventWorkersCount", `1`},
	{"eventsDebugLogging", `false`},
	{"runtime", `"OnPrem"`},
	{"resourcesPath", `".port/resources"`},
	{"maxEventProcessingSeconds", `90`},
	{"maxWaitSecondsBeforeShutdown", `5`},
	{"cachingStorageMode", `"disk"`},
	{"upsertEntitiesBatchMaxLength", `20`},
	{"upsertEntitiesBatchMaxSizeInBytes", `1048576`},
	{"lakehouseEnabled", `true`},
	{"disableIpOutboundBlocker", `null`},
	{"lakehouseBufferIntervalSeconds", `10`},
	{"lakehouseBufferMaxCount", `50`},
	{"processingMode", `"dsp"`},
	{"yieldItemsToParseBatchSize", `200`},
	{"processInQueueTimeout", `120`},
	{"processInQueueMaxWorkers", `0`},
	{"deleteEntitiesMaxBatchSize", `1000`},
	{"processExecutionMode", `""`},
	{"streaming.enabled", `false`},
	{"streaming.maxBufferSizeMb", `20971520`},
	{"streaming.chunkSize", `65536`},
	{"streaming.location", `"/tmp/ocean/streaming"`},
	{"actionsProcessor.enabled", `false`},
	{"actionsProcessor.runsBufferHighWatermark", `300`},
	{"actionsProcessor.visibilityTimeoutMs", `60000`},
	{"actionsProcessor.pollCheckIntervalSeconds", `10`},
	{"actionsProcessor.workersCount", `3`},
	{"actionsProcessor.maxRunsBufferUtilPctPerAction", `30`},
	{"liveEvents.type", `"REDIS"`},
	{"liveEvents.isRedisStreamConsumerEnabled", `false`},
	{"liveEvents.redis.url", `"redis://localhost:6379"`},
	{"liveEvents.redis.username", `""`},
	{"liveEvents.redis.password", `""`},
	{"liveEvents.redis.enableTls", `false`},
	{"liveEvents.redis.ca", `""`},
	{"liveEvents.redis.cert", `""`},
	{"liveEvents.redis.privateKey", `""`},
	{"liveEvents.redis.blockMs", `1000`},
	{"liveEvents.redis.readCount", `10`},
	{"liveEvents.redis.streamTtlSeconds", `2592000`},
	{"liveEvents.redis.streamMaintenanceWorkerEnabled", `true`},
	{"liveEvents.redis.pelStuckTimeoutSeconds", `600`},
	{"liveEvents.redis.pelMaxRequeueCount", `3`},
	{"liveEvents.redis.streamMaintenanceScanIntervalSeconds", `30`},
	{"liveEvents.redis.pelXautoclaimCount", `100`},
	{"liveEvents.redis.streamMaintenanceErrorBackoffSeconds", `5`},
	{"liveEvents.redis.streamMaintenanceConsumerCleanupEnabled", `true`},
	{"liveEvents.redis.streamMaintenanceConsumerCleanupIdleSeconds", `86400`},
	{"liveEvents.redis.connectionErrorBackoffSeconds", `5`},
	{"liveEvents.redis.connectionStartupMaxRetries", `5`},
	{"liveEvents.redis.connectionStartupInitialBackoffSeconds", `1`},
	{"liveEvents.redis.connectionStartupExponentialBase", `2`},
	{"metrics.enabled", `false`},
	{"metrics.webhookUrl", `""`},
	{"ssl.port.verify", `true`},
	{"ssl.port.x509.strict", `true`},
	{"ssl.thirdParty.verify", `true`},
	{"ssl.thirdParty.x509.strict", `true`},
	{"application.logLevel", `""`},
	{"application.enableHttpLogging", `true`},
	{"application.port", `8000`},
	{"stateDir", `".oceand"`},
	{"controlSocket", `true`},
	{"serveHealth", `false`},
	{"resyncPolicy", `"supersede"`},
	{"jobHistoryLimit", `1000`},
	{"logFormat", `"auto"`},
	{"logLevel", `"info"`},
	{"jqEnvAllowList", `[]`},
	{"sendSyncMetrics", `true`},
}

func TestEverySettingHasItsDefault(t *testing.T) {
	t.Parallel()
	s, problems := read(t, input{})
	if len(problems) > 0 {
		t.Fatalf("problems with no settings at all: %v", problems)
	}
	entries := s.Entries()
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	var tableKeys []string
	for _, d := range defaults {
		tableKeys = append(tableKeys, d.key)
	}
	if !slices.Equal(keys, tableKeys) {
		t.Fatalf("settings and the defaults table differ: add the new setting's default here\nsettings: %v\ntable:    %v", keys, tableKeys)
	}
	for i, d := range defaults {
		e := entries[i]
		if got := jsonOf(t, e.Value); got != d.want {
			t.Errorf("%s default = %s, want %s", d.key, got, d.want)
		}
		if e.Source.Kind != config.FromDefault {
			t.Errorf("%s source = %s, want default", d.key, e.Source)
		}
	}
}

// testValue is a value for a setting whose default is def, as a string
// for the environment, and the value the setting must then have.
func testValue(key, def string) (raw string, want string) {
	switch {
	case def == "true":
		return "off", "false"
	case def == "false" || def == "null":
		return "yes", "true"
	case strings.HasPrefix(def, "["):
		return "a, b", `["a","b"]`
	case strings.HasPrefix(def, `"`):
		if key == "eventListener.type" {
			return "value-7", `"VALUE-7"` // upper-cased when read
		}
		return "value-7", `"value-7"`
	}
	return "7", "7"
}

// nestJSON wraps v in objects keyed by the camelCase path parts.
func nestJSON(parts []string, v string) string {
	for i := len(parts) - 1; i >= 0; i-- {
		v = `{"` + parts[i] + `": ` + v + `}`
	}
	return v
}

func TestEverySettingFromEverySource(t *testing.T) {
	t.Parallel()
	for _, d := range defaults {
		if d.key == "integration.config" {
			continue // free-form: TestIntegrationConfig
		}
		raw, want := testValue(d.key, d.want)
		name := envNameOf(d.key)
		snake := make([]string, 0, 4)
		for _, p := range strings.Split(d.key, ".") {
			snake = append(snake, config.Decamelize(p))
		}
		rawJSON := jsonOf(t, raw)
		sources := []struct {
			source string
			in     input
			kind   config.SourceKind
			origin string
		}{
			{"env", input{env: []string{name + "=" + raw}}, config.FromEnv, "env " + name},
			{"lower-case env", input{env: []string{strings.ToLower(name) + "=" + raw}}, config.FromEnv, "env " + strings.ToLower(name)},
			{".env", input{dotenv: "# settings\nexport " + name + "=" + raw + "\n"}, config.FromDotEnv, ".env:2 " + name},
			{"config.yaml", input{yaml: nestJSON(strings.Split(d.key, "."), rawJSON)}, config.FromFile, "config.yaml:1:"},
			{"flag", input{flags: map[string]string{strings.Join(snake, "."): raw}}, config.FromFlag, "flag"},
		}
		for _, src := range sources {
			t.Run(d.key+"/"+src.source, func(t *testing.T) {
				t.Parallel()
				s, problems := read(t, src.in)
				if len(problems) > 0 {
					t.Fatalf("problems: %v", problems)
				}
				e := entry(t, s, d.key)
				got := jsonOf(t, e.Value)
				if e.Sensitive {
					got = jsonOf(t, raw) // masked; compared through Secrets below
					if !slices.Contains(s.Secrets(), raw) {
						t.Errorf("sensitive %s is not among the secrets", d.key)
					}
				} else if got != want {
					t.Errorf("%s = %s, want %s", d.key, got, want)
				}
				if e.Source.Kind != src.kind || !strings.Contains(e.Source.String(), src.origin) {
					t.Errorf("%s source = %s, want %s", d.key, e.Source, src.origin)
				}
				if w := s.Warnings(); len(w) > 0 {
					t.Errorf("warnings: %v", w)
				}
			})
		}
	}
}

// TestEveryObjectAsJSON gives each setting inside each of its enclosing
// objects as one JSON variable: OCEAN__SSL='{"port":{"verify":false}}'.
func TestEveryObjectAsJSON(t *testing.T) {
	t.Parallel()
	for _, d := range defaults {
		parts := strings.Split(d.key, ".")
		if d.key == "integration.config" || len(parts) < 2 {
			continue
		}
		raw, want := testValue(d.key, d.want)
		for depth := 1; depth < len(parts); depth++ {
			group := strings.Join(parts[:depth], ".")
			name := envNameOf(group)
			if group == "application" {
				name = "OCEAN__APPLICATION"
			}
			value := nestJSON(parts[depth:], jsonOf(t, raw))
			t.Run(d.key+"/"+name, func(t *testing.T) {
				t.Parallel()
				s, problems := read(t, input{env: []string{name + "=" + value}})
				if len(problems) > 0 {
					t.Fatalf("%s=%s: problems %v", name, value, problems)
				}
				e := entry(t, s, d.key)
				if got := jsonOf(t, e.Value); !e.Sensitive && got != want {
					t.Errorf("%s=%s: %s = %s, want %s", name, value, d.key, got, want)
				}
				if e.Source.String() != "env "+name {
					t.Errorf("source = %s, want env %s", e.Source, name)
				}
			})
		}
	}
}
