package config

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validate checks the settings every command needs. The error is a
// *ValidationError listing every problem, each naming the setting and
// where its value came from.
func (s *Settings) Validate() error {
	m := s.ensureMeta()
	var problems []Problem
	bad := func(path, format string, args ...any) {
		if m.failed[path] {
			return // its type error is reported already
		}
		problems = append(problems, Problem{Key: m.display(path), Origin: m.origins[path], Message: fmt.Sprintf(format, args...)})
	}
	root := reflect.ValueOf(s).Elem()
	m.schema.walk(func(f *field) {
		if f.required && !m.failed[f.path] && root.FieldByIndex(f.index).IsZero() {
			problems = append(problems, m.required(f.path))
		}
	})
	if u := s.Port.BaseURL; !isHTTPURL(u) {
		bad("port.base_url", "must be an http(s) URL, got %s", m.showString("port.base_url", u))
	}
	switch s.EventListener.Type {
	case ListenerPolling, ListenerKafka, ListenerOnce:
	case ListenerWebhook:
		if s.EventListener.AppHost == "" {
			problems = append(problems, m.required("event_listener.app_host"))
		} else if !isHTTPURL(s.EventListener.AppHost) {
			bad("event_listener.app_host", "must be an http(s) URL (the value is hidden: the setting is sensitive)")
		}
	case "WEBHOOKS_ONLY", "ACTIONS_ONLY":
		bad("event_listener.type", "%s is not supported: oceand does not process live events or actions yet", s.EventListener.Type)
	default:
		bad("event_listener.type", "must be POLLING, WEBHOOK, KAFKA or ONCE, got %q", s.EventListener.Type)
	}
	positive := map[string]int{
		"event_listener.interval":      s.EventListener.Interval,
		"port.max_concurrent_requests": s.Port.MaxConcurrentRequests,
		"job_history_limit":            s.JobHistoryLimit,
		// Ocean's own rule (> 0).
		"status_heartbeat_interval_seconds": s.StatusHeartbeatIntervalSeconds,
	}
	for _, path := range slices.Sorted(maps.Keys(positive)) {
		if positive[path] < 1 {
			bad(path, "must be at least 1, got %d", positive[path])
		}
	}
	if s.ScheduledResyncInterval < 0 {
		bad("scheduled_resync_interval", "must be 0 (no scheduled resync) or a number of minutes, got %d", s.ScheduledResyncInterval)
	}
	oneOf := func(path, got string, allowed ...string) {
		if !slices.Contains(allowed, got) {
			bad(path, "must be %s, got %q", orList(allowed), got)
		}
	}
	oneOf("resync_policy", s.ResyncPolicy, "supersede", "queue", "skip")
	oneOf("log_format", s.LogFormat, "auto", "text", "json")
	oneOf("log_level", strings.ToLower(s.LogLevel), "debug", "info", "warning", "warn", "error", "critical")
	// 0 lets the system pick a free port (the address is logged): tests.
	if s.Application.Port < 0 || s.Application.Port > 65535 {
		bad("application.port", "must be a TCP port (1-65535, or 0 for any free one), got %d", s.Application.Port)
	}
	for _, b := range headerBounds {
		v := root.FieldByIndex(m.schema.lookupPath(b.path).index).String()
		if n := utf8.RuneCountInString(v); n > b.max {
			bad(b.path, "is %d characters long, more than the %d allowed: it goes into the URLs and headers of every Port request", n, b.max)
		} else if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
			bad(b.path, "contains a control character (at byte %d), which no URL or HTTP header may carry", i)
		}
	}
	return errorOf(problems)
}

// headerBounds limit settings that travel in the URL and headers of Port
// requests (the integration's route, User-Agent, the datasource of every
// entity): refused here by name rather than later as Port's "431 Request
// Header Fields Too Large". The identifier gets Port's longest identifier
// limit (an entity's, 1000), the type its blueprint identifiers' (100).
var headerBounds = []struct {
	path string
	max  int
}{
	{"integration.identifier", 1000},
	{"integration.type", 100},
	{"port.base_url", 2048},
}

// ProblemAt is a problem with the setting at path (snake_case, dotted:
// "scheduled_resync_cron"), named as config.yaml spells it and located
// where its value was written. Checks outside this package (the
// schedule, a source's) report through it.
func (s *Settings) ProblemAt(path, format string, args ...any) Problem {
	m := s.ensureMeta()
	return Problem{Key: m.display(path), Origin: m.origins[path], Message: fmt.Sprintf(format, args...)}
}

// required is the problem of a required setting that has no value,
// naming the unset variable when a template meant to provide it.
func (m *meta) required(path string) Problem {
	key := m.display(path)
	for _, n := range m.notes {
		if n.path == path {
			return Problem{Key: key, Message: "required; " + n.String()}
		}
	}
	if o := m.origins[path]; o.Kind != FromDefault {
		return Problem{Key: key, Origin: o, Message: "required, but empty"}
	}
	return Problem{Key: key, Message: fmt.Sprintf("required: set %s in config.yaml or %s", key, envName(path))}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (m *meta) showString(path, s string) string {
	return m.show(path, newScalar(s, Origin{}))
}

func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// Warnings are the problems that do not stop oceand: unknown settings
// (with a suggestion), templates whose variable is unset for settings that
// are not required, integration.config keys the spec does not declare.
func (s *Settings) Warnings() []Problem {
	m := s.meta
	if m == nil {
		return nil
	}
	out := slices.Clone(m.warnings)
	for _, n := range m.notes {
		if m.requiredPath(n.path) {
			continue // Validate or ApplySpec reports it as an error
		}
		out = append(out, Problem{Key: m.display(n.path), Origin: n.origin, Warning: true,
			Message: fmt.Sprintf("reads env %s, which is not set; the default applies", n.name)})
	}
	return append(out, m.specWarnings...)
}

// requiredPath reports whether a setting is required, by the Settings
// struct or by the applied spec.
func (m *meta) requiredPath(path string) bool {
	if f := m.schema.lookupPath(path); f != nil && f.required {
		return true
	}
	if m.spec != nil {
		if key, ok := strings.CutPrefix(path, "integration.config."); ok {
			if f := m.spec.byKey[key]; f != nil && f.Required && !f.HasDefault {
				return true
			}
		}
	}
	return path == "event_listener.app_host"
}

// ensureMeta gives settings built by hand (not loaded) empty load
// information.
func (s *Settings) ensureMeta() *meta {
	if s.meta == nil {
		s.meta = &meta{schema: newSchema(), origins: map[string]Origin{}, failed: map[string]bool{}}
	}
	return s.meta
}
