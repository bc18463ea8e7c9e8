package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/jobs"
	"oceand/listeners"
	"oceand/metrics"
	"oceand/port"
	"oceand/store"
)

// Listener turns outside signals into job requests (package listeners).
// The daemon starts it once the job runner and the scheduler run, and
// stops it first at shutdown, so no trigger reaches a stopped engine.
// Start returns once the listener is running; Stop is idempotent and waits
// for its goroutines.
type Listener interface {
	Start(ctx context.Context) error
	Stop()
}

// ListenerDeps is what a listener gets from the daemon.
type ListenerDeps struct {
	Settings *config.Settings
	// Queue accepts triggers. A listener that keeps a watermark writes it
	// through the trigger's State, in the job's transaction, never on its
	// own: a restart then neither loses nor replays a trigger.
	Queue *jobs.Engine
	Port  *port.Client
	Store *store.Store
	// Secrets learnt at run time (Kafka credentials) go to the redactor.
	AddSecrets func(...string)
	Logger     *slog.Logger
	Now        func() time.Time
	// Metrics, when set, is served on the health server's /metrics.
	Metrics *metrics.Metrics
}

// engineQueue adapts the job engine to listeners.Requester.
type engineQueue struct{ e *jobs.Engine }

func (q engineQueue) Request(_ context.Context, t listeners.Trigger) (uint64, error) {
	res, err := q.e.Enqueue(jobs.Request{Trigger: t.Kind, Reason: t.Reason, State: t.State})
	if err != nil || res.Job == nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// listenerSet is the running listener and, when one runs, the HTTP server.
type listenerSet struct {
	parts []Listener
}

func (l *listenerSet) Start(ctx context.Context) error {
	for i, p := range l.parts {
		if err := p.Start(ctx); err != nil {
			for _, started := range l.parts[:i] {
				started.Stop()
			}
			return err
		}
	}
	return nil
}

func (l *listenerSet) Stop() {
	for _, p := range slices.Backward(l.parts) {
		p.Stop()
	}
}

// newListener builds the listener of eventListener.type; nil when the type
// needs none. ONCE is handled by Run. The start-up resync (resyncOnStart)
// is queued by the daemon for every type before the listener starts; a
// listener does not queue it again.
func newListener(ctx context.Context, deps ListenerDeps) (Listener, error) {
	s := deps.Settings
	queue := engineQueue{deps.Queue}
	set := &listenerSet{}
	var ready func() error
	switch s.EventListener.Type {
	case config.ListenerPolling:
		p := &listeners.Polling{
			Port: deps.Port, Queue: queue, State: deps.Store,
			Interval: time.Duration(s.EventListener.Interval) * time.Second,
			Logger:   deps.Logger,
		}
		set.parts = append(set.parts, p)
		ready = p.Healthy
	case config.ListenerKafka:
		k, err := newKafka(ctx, deps, queue)
		if err != nil {
			return nil, err
		}
		set.parts = append(set.parts, k)
		ready = k.Healthy
	}
	if s.EventListener.Type == config.ListenerWebhook || s.ServeHealth {
		h := &listeners.HTTPServer{
			Addr:    net.JoinHostPort(s.EventListener.BindAddress, strconv.Itoa(s.Application.Port)),
			Secret:  s.EventListener.WebhookSecret,
			Ready:   ready,
			Logger:  deps.Logger,
			Version: buildinfo.Version,
		}
		if s.EventListener.Type == config.ListenerWebhook {
			h.Queue = queue
		}
		if err := mountMetrics(h, deps, ready); err != nil {
			return nil, err
		}
		set.parts = append(set.parts, h)
	}
	if len(set.parts) == 0 {
		return nil, nil
	}
	return set, nil
}

// newKafka builds the Kafka listener as Ocean configures its consumer:
// org id and (with security on) credentials from Port, group
// <orgId>.<type>.<identifier>, topic by feature flag.
func newKafka(ctx context.Context, deps ListenerDeps, queue listeners.Requester) (*listeners.Kafka, error) {
	el := deps.Settings.EventListener
	org, err := deps.Port.GetOrganization(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka listener: read the organization: %w", err)
	}
	if org.ID == "" {
		return nil, errors.New("kafka listener: Port returned no organization id")
	}
	topic := org.ID + ".change.log"
	if slices.Contains(org.FeatureFlags, "OCEAN_KAFKA_INTEGRATION_RESYNC_REQUESTS_TOPIC_ENABLED") {
		topic = org.ID + ".integration.resync.requests"
	}
	k := &listeners.Kafka{
		Brokers:    parseBrokers(el.Brokers),
		GroupID:    org.ID + "." + deps.Settings.Integration.Type + "." + deps.Settings.Integration.Identifier,
		Topic:      topic,
		Identifier: deps.Settings.Integration.Identifier,
		Queue:      queue,
		State:      deps.Store,
		Logger:     deps.Logger,
	}
	if el.KafkaSecurityEnabled {
		if !strings.EqualFold(el.AuthenticationMechanism, "SCRAM-SHA-512") {
			return nil, fmt.Errorf("eventListener.authenticationMechanism: only SCRAM-SHA-512 is supported, got %q", el.AuthenticationMechanism)
		}
		creds, err := deps.Port.GetKafkaCredentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("kafka listener: %w", err)
		}
		if deps.AddSecrets != nil {
			deps.AddSecrets(creds.Username, creds.Password)
		}
		k.User, k.Password = creds.Username, creds.Password
		if strings.Contains(strings.ToUpper(el.SecurityProtocol), "SSL") {
			k.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return k, nil
}

// parseBrokers accepts the setting as a list or a single comma-separated
// or JSON-array string (Ocean accepts both).
func parseBrokers(in []string) []string {
	var out []string
	for _, b := range in {
		out = append(out, listeners.ParseBrokers(b)...)
	}
	return out
}
