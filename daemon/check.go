package daemon

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"oceand/config"
	"oceand/mapping"
	"oceand/scheduler"
	"oceand/sources"
)

// CheckSettings runs every check a start makes on the settings before it
// opens the state directory or calls Port, and returns every problem found
// (nil: none): the settings' own checks, the source of integration.type
// with its spec (applied to s, as a start applies it), the source's own
// reading of integration.config, its default mapping, the schedule and
// the listener's options. New and `oceand config validate` both call it,
// so validate refuses exactly what a start refuses. reg nil means
// Builtin().
func CheckSettings(s *config.Settings, reg *sources.Registry) []config.Problem {
	if reg == nil {
		reg = Builtin()
	}
	problems := config.ProblemsOf(s.Validate())
	if t := s.Integration.Type; t != "" && !hasProblem(problems, "integration.type") {
		if def, err := reg.Lookup(t); err != nil {
			problems = append(problems, s.ProblemAt("integration.type", "%q: no such source (available: %s)", t, strings.Join(reg.Types(), ", ")))
		} else {
			problems = append(problems, checkSource(s, def)...)
		}
	}
	if s.ScheduledResyncInterval >= 0 {
		if _, err := scheduler.New(scheduler.Config{
			Interval: time.Duration(s.ScheduledResyncInterval) * time.Minute,
			Cron:     s.ScheduledResyncCron,
		}); err != nil {
			msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("scheduledResyncCron %q: ", s.ScheduledResyncCron))
			problems = append(problems, s.ProblemAt("scheduled_resync_cron", "%s", msg))
		}
	}
	if el := s.EventListener; el.Type == config.ListenerKafka {
		if len(parseBrokers(el.Brokers)) == 0 {
			problems = append(problems, s.ProblemAt("event_listener.brokers", "the KAFKA listener needs at least one broker"))
		}
		switch strings.ToUpper(el.SecurityProtocol) {
		case "SASL_SSL", "SASL_PLAINTEXT", "SSL", "PLAINTEXT":
		default:
			// The listener uses TLS when the protocol names SSL: a typo
			// would send Port's Kafka credentials in clear.
			problems = append(problems, s.ProblemAt("event_listener.security_protocol", "must be one of SASL_SSL, SASL_PLAINTEXT, SSL or PLAINTEXT, got %q", el.SecurityProtocol))
		}
		if el.KafkaSecurityEnabled && !strings.EqualFold(el.AuthenticationMechanism, "SCRAM-SHA-512") {
			problems = append(problems, s.ProblemAt("event_listener.authentication_mechanism", "only SCRAM-SHA-512 is supported, got %q", el.AuthenticationMechanism))
		}
	}
	return problems
}

// checkSource applies the source's spec to integration.config, lets the
// source read it (building the source starts nothing) and checks the
// default mapping a start would send to Port.
func checkSource(s *config.Settings, def sources.Definition) []config.Problem {
	if err := s.ApplySpec(def.Defaults.Spec); err != nil {
		return config.ProblemsOf(err)
	}
	var problems []config.Problem
	_, err := def.New(s.Integration.Config, sources.Env{
		Logger:     slog.New(slog.DiscardHandler),
		StateDir:   s.StateDir,
		AddSecrets: func(...string) {},
	})
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "integration.config") {
			problems = append(problems, config.Problem{Message: msg})
		} else {
			problems = append(problems, s.ProblemAt("integration.config", "%s", msg))
		}
	}
	if _, err := defaultMapping(def); err != nil {
		problems = append(problems, s.ProblemAt("integration.type", "%v", err))
	}
	return problems
}

// defaultMapping is a source's port-app-config as Port stores it.
func defaultMapping(def sources.Definition) (*mapping.Config, error) {
	if len(def.Defaults.PortAppConfig) == 0 {
		c := mapping.DefaultConfig()
		return &c, nil
	}
	c, err := mapping.ParseYAML(def.Defaults.PortAppConfig)
	if err != nil {
		return nil, fmt.Errorf("default mapping of source %s: %w", def.Type, err)
	}
	// Compiled before it is sent: a mapping that cannot run must not
	// reach Port as the integration's mapping.
	if _, err := mapping.Compile(c, mapping.Options{}); err != nil {
		return nil, fmt.Errorf("default mapping of source %s: %w", def.Type, err)
	}
	return c, nil
}

func hasProblem(problems []config.Problem, key string) bool {
	for _, p := range problems {
		if p.Key == key {
			return true
		}
	}
	return false
}
