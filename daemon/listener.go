package daemon

import (
	"context"
	"log/slog"
	"time"

	"oceand/config"
	"oceand/jobs"
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
	// Queue accepts triggers. A listener that keeps a watermark (the
	// polling config hash and resync-request updatedAt, under
	// store.KeyConfigHash and store.KeyResyncRequestWatermark) writes it
	// through jobs.Request.State, in the job's transaction, never on its
	// own: a restart then neither loses nor replays a trigger. A Kafka
	// listener commits an offset after Enqueue returned: the job is
	// durable by then.
	Queue *jobs.Engine
	Port  *port.Client
	// Store is for reading watermarks at start.
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
}

// newListener builds the listener of eventListener.type; nil when the type
// needs none. ONCE is handled by Run. The start-up resync (resyncOnStart)
// is queued by the daemon for every type before the listener starts; a
// listener must not queue it again.
func newListener(deps ListenerDeps) (Listener, error) {
	switch deps.Settings.EventListener.Type {
	case config.ListenerPolling, config.ListenerWebhook, config.ListenerKafka:
		deps.Logger.Warn("this build does not listen for " + deps.Settings.EventListener.Type +
			" events yet: resyncs come from resyncOnStart, the schedule and `oceand resync`")
	}
	return nil, nil
}
