package config

import (
	"fmt"
	"strings"
)

// Settings are oceand's effective settings. Keys (the `key` tags) are the
// snake_case names of Ocean's settings; YAML uses their camelCase form and
// the environment OCEAN__ plus their upper-case form.
type Settings struct {
	Port                    PortSettings          `key:"port"`
	EventListener           EventListenerSettings `key:"event_listener"`
	Integration             IntegrationSettings   `key:"integration"`
	InitializePortResources bool                  `key:"initialize_port_resources"`
	// ScheduledResyncInterval is in minutes; 0 means no scheduled resync.
	ScheduledResyncInterval int `key:"scheduled_resync_interval"`
	// ScheduledResyncCron is a cron spec for scheduled resyncs (UTC unless
	// it starts with CRON_TZ=); exclusive with ScheduledResyncInterval.
	ScheduledResyncCron string `key:"scheduled_resync_cron"`

	// oceand's own settings.

	// StateDir holds oceand.db and oceand.sock.
	StateDir string `key:"state_dir"`
	// ResyncPolicy is what a new trigger does to a running resync:
	// supersede, queue or skip.
	ResyncPolicy string `key:"resync_policy"`
	// JobHistoryLimit is how many jobs the history keeps.
	JobHistoryLimit int `key:"job_history_limit"`
	// LogFormat is auto, text or json.
	LogFormat string `key:"log_format"`
	// LogLevel is debug, info, warning or error.
	LogLevel string `key:"log_level"`
	// JQEnvAllowList names the environment variables jq mappings may read.
	JQEnvAllowList []string `key:"jq_env_allow_list"`
	// ControlSocket serves the CLI on stateDir/oceand.sock
	// (--no-control-socket turns it off).
	ControlSocket bool `key:"control_socket"`
}

// PortSettings locate and authenticate Port.
type PortSettings struct {
	ClientID     string `key:"client_id" secret:"true"`
	ClientSecret string `key:"client_secret" secret:"true"`
	BaseURL      string `key:"base_url"`
	// MaxConcurrentRequests bounds entity writes in flight.
	MaxConcurrentRequests int `key:"max_concurrent_requests"`
}

// EventListenerSettings choose how resyncs are triggered.
type EventListenerSettings struct {
	// Type is POLLING, WEBHOOK, KAFKA or ONCE.
	Type          string `key:"type"`
	Interval      int    `key:"interval"`
	ResyncOnStart bool   `key:"resync_on_start"`
	AppHost       string `key:"app_host" secret:"true"`
}

// IntegrationSettings name the integration and configure its source.
type IntegrationSettings struct {
	Identifier string         `key:"identifier"`
	Type       string         `key:"type"`
	Config     map[string]any `key:"config"`
}

// Event listener types.
const (
	ListenerPolling = "POLLING"
	ListenerWebhook = "WEBHOOK"
	ListenerKafka   = "KAFKA"
	ListenerOnce    = "ONCE"
)

// defaults is Ocean's defaults plus oceand's own, as a settings tree.
func defaults() map[string]any {
	return map[string]any{
		"port": map[string]any{
			"base_url":                "https://api.getport.io",
			"max_concurrent_requests": 5,
		},
		"event_listener": map[string]any{
			"type":            ListenerPolling,
			"interval":        60,
			"resync_on_start": true,
		},
		"integration": map[string]any{
			"identifier": "",
			"type":       "",
			"config":     map[string]any{},
		},
		"initialize_port_resources": true,
		"scheduled_resync_interval": 0,
		"scheduled_resync_cron":     "",
		"state_dir":                 ".oceand",
		"resync_policy":             "supersede",
		"job_history_limit":         1000,
		"log_format":                "auto",
		"log_level":                 "info",
		"jq_env_allow_list":         []any{},
		"control_socket":            true,
	}
}

// Validate checks settings that every command needs.
func (s *Settings) Validate() error {
	var problems []string
	if s.Port.ClientID == "" {
		problems = append(problems, "port.clientId: required (OCEAN__PORT__CLIENT_ID)")
	}
	if s.Port.ClientSecret == "" {
		problems = append(problems, "port.clientSecret: required (OCEAN__PORT__CLIENT_SECRET)")
	}
	if !strings.HasPrefix(s.Port.BaseURL, "http://") && !strings.HasPrefix(s.Port.BaseURL, "https://") {
		problems = append(problems, fmt.Sprintf("port.baseUrl: must be an http(s) URL, got %q", s.Port.BaseURL))
	}
	if s.Integration.Type == "" {
		problems = append(problems, "integration.type: required (OCEAN__INTEGRATION__TYPE)")
	}
	switch s.EventListener.Type {
	case ListenerPolling, ListenerWebhook, ListenerKafka, ListenerOnce:
	default:
		problems = append(problems, fmt.Sprintf("eventListener.type: must be POLLING, WEBHOOK, KAFKA or ONCE, got %q", s.EventListener.Type))
	}
	switch s.ResyncPolicy {
	case "supersede", "queue", "skip":
	default:
		problems = append(problems, fmt.Sprintf("resyncPolicy: must be supersede, queue or skip, got %q", s.ResyncPolicy))
	}
	switch s.LogFormat {
	case "auto", "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("logFormat: must be auto, text or json, got %q", s.LogFormat))
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// ValidationError lists every problem found in the settings.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid settings: " + e.Problems[0]
	}
	return "invalid settings:\n  " + strings.Join(e.Problems, "\n  ")
}

// Secrets returns the setting values that must never be printed.
func (s *Settings) Secrets() []string {
	var out []string
	for _, v := range []string{s.Port.ClientID, s.Port.ClientSecret, s.EventListener.AppHost} {
		if v != "" {
			out = append(out, v)
		}
	}
	collectSecrets(s.Integration.Config, "", &out)
	return out
}

// collectSecrets gathers values under keys that look like credentials.
func collectSecrets(v any, key string, out *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			collectSecrets(e, k, out)
		}
	case []any:
		for _, e := range t {
			collectSecrets(e, key, out)
		}
	case string:
		if t != "" && SensitiveKey(key) {
			*out = append(*out, t)
		}
	}
}

// SensitiveKey reports whether a setting named key holds a credential.
func SensitiveKey(key string) bool {
	k := strings.ToLower(strings.ReplaceAll(key, "_", ""))
	for _, w := range []string{"token", "secret", "password", "apikey", "privatekey", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
