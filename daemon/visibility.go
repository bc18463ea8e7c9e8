package daemon

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"oceand/buildinfo"
	"oceand/listeners"
	"oceand/logging"
	"oceand/metrics"
	"oceand/store"
)

// DefaultLogFlushTimeout bounds the last flush of shipped logs at stop.
const DefaultLogFlushTimeout = 3 * time.Second

// LogShipping tunes the shipping of logs to Port (tests, benchmarks); zero
// values are Ocean's: batches of 100 records or every 5 s.
type LogShipping struct {
	BatchSize     int
	FlushInterval time.Duration
	BufferSize    int
	// FlushTimeout bounds the last flush at stop. Default
	// DefaultLogFlushTimeout.
	FlushTimeout time.Duration
}

// setupVisibility builds what Port's UI and Prometheus see: the metrics
// and, with application.enableHttpLogging, the log shipper, whose handler
// is teed with the daemon's own so every component's records reach it.
func (d *Daemon) setupVisibility() error {
	d.metrics = metrics.New(buildinfo.Version)
	if !d.settings.Application.EnableHTTPLogging {
		return nil
	}
	level, err := logging.ParseLevel(d.settings.LogLevel)
	if err != nil {
		return err
	}
	ls := d.opts.LogShipping
	d.shipper = logging.NewShipper(logging.ShipperConfig{
		Send:          d.shipLogs,
		Level:         level,
		Redactor:      d.opts.Redactor,
		Local:         d.opts.Logger.With("component", "log-shipper"),
		BatchSize:     ls.BatchSize,
		FlushInterval: ls.FlushInterval,
		BufferSize:    ls.BufferSize,
		Now:           d.opts.Now,
	})
	// Ocean's shipped records carry the host and an id of the process.
	host, err := os.Hostname()
	if err != nil {
		host = "unknown" // as Ocean
	}
	shipped := d.shipper.Handler().WithAttrs([]slog.Attr{slog.String("hostname", host), slog.String("instance", newInstanceID())})
	d.logger = slog.New(slog.NewMultiHandler(d.opts.Logger.Handler(), shipped))
	return nil
}

// newInstanceID is a random UUID (version 4), as Ocean's instance ids.
func newInstanceID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (d *Daemon) shipLogs(ctx context.Context, records json.RawMessage) error {
	return d.port.IngestLogs(ctx, d.logIngestURL, records)
}

// startShipping sends the buffered and later log records, once Port named
// its log ingest (at registration).
func (d *Daemon) startShipping() error {
	if d.shipper == nil {
		return nil
	}
	if d.logIngestURL == "" {
		d.opts.Logger.Warn("Port gave no log ingest URL (logAttributes.ingestUrl); logs are not shipped to Port")
		return nil
	}
	return d.shipper.Start()
}

// stopShipping flushes what is left within the flush timeout.
func (d *Daemon) stopShipping() {
	if d.shipper == nil {
		return
	}
	timeout := d.opts.LogShipping.FlushTimeout
	if timeout <= 0 {
		timeout = DefaultLogFlushTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d.shipper.Stop(ctx)
}

// LogRecordsDropped is the number of log records not shipped to Port.
func (d *Daemon) LogRecordsDropped() int64 {
	if d.shipper == nil {
		return 0
	}
	return d.shipper.Dropped()
}

// Metrics is the daemon's Prometheus registry and handler.
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// registerMetrics sets the gauges read at scrape time and the last
// success from the job history.
func (d *Daemon) registerMetrics(st *store.Store) error {
	last, err := st.ListJobs(store.ListOptions{Limit: 1, State: store.JobSucceeded, NoKinds: true})
	if err != nil {
		return err
	}
	if len(last) == 1 && last[0].FinishedAt != nil {
		d.metrics.SetLastSuccess(*last[0].FinishedAt)
	}
	g := metrics.Gauges{
		RateLimitBudget: d.port.Pacer().Budget,
		Queue: func() (running, queued int) {
			if d.engine != nil && d.engine.Running() != nil {
				running = 1
			}
			waiting, err := st.ListJobs(store.ListOptions{Limit: 1, State: store.JobQueued, NoKinds: true})
			if err == nil {
				queued = len(waiting)
			}
			return running, queued
		},
	}
	if d.shipper != nil {
		g.LogRecordsDropped = d.shipper.Dropped
	}
	if d.watch != nil {
		g.PortReachable = func() bool { return d.watch.healthy() == nil }
	}
	return d.metrics.RegisterGauges(g)
}

// mountMetrics serves /metrics on the health server and exposes the
// listener's health.
func (d *Daemon) mountMetrics(h *listeners.HTTPServer) error {
	if d.metrics == nil {
		return nil
	}
	h.Metrics = d.metrics.Handler()
	return d.metrics.RegisterGauges(metrics.Gauges{Listener: d.listenerHealthy, ListenerType: d.settings.EventListener.Type})
}

// listenerHealthy is the listener's own health: nil until it starts.
func (d *Daemon) listenerHealthy() error {
	d.healthMu.Lock()
	f := d.listenerHealth
	d.healthMu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}
