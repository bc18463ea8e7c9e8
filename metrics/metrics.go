// Package metrics is oceand's Prometheus exposition (/metrics on the
// health server): resyncs, kinds, entities, Port requests, the pacer, the
// job queue, listener health, and the Go runtime and process collectors.
//
// It keeps its own registry (never the global default one) and learns
// what happens through small hooks: it is the port client's Observer and
// the resync's Observer, the job engine tells it each finished job, and
// gauges read their values at scrape time from functions the daemon
// gives. Labels are bounded: route templates, kind ids of the mapping,
// triggers and states, never URLs or entity identifiers.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"oceand/store"
)

// Namespace prefixes every metric of oceand.
const Namespace = "oceand"

// Metrics holds oceand's collectors and their registry.
type Metrics struct {
	reg *prometheus.Registry

	resyncs        *prometheus.CounterVec
	resyncDuration *prometheus.HistogramVec
	lastSuccess    prometheus.Gauge
	kindDuration   *prometheus.HistogramVec
	kindsFinished  *prometheus.CounterVec
	entities       *prometheus.CounterVec

	portRequests *prometheus.CounterVec
	portDuration *prometheus.HistogramVec
	portLimited  *prometheus.CounterVec
	portRetries  *prometheus.CounterVec
	portWaited   *prometheus.CounterVec
}

// New returns Metrics with the Go runtime and process collectors and
// oceand's own, registered on a registry of their own.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "resyncs_total",
			Help: "Resync jobs that ended, by trigger and final state (succeeded, failed, superseded, cancelled, interrupted).",
		}, []string{"trigger", "state"}),
		resyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "resync_duration_seconds",
			Help:    "How long resync jobs ran, by final state.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16), // 1s .. 9h
		}, []string{"state"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_successful_resync_timestamp_seconds",
			Help: "Unix time at which the last successful resync finished; 0 if none ever did.",
		}),
		kindDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "kind_duration_seconds",
			Help:    "How long each kind of the mapping took to sync, by kind id (<kind>-<index>) and state.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 18), // 0.1s .. 3.6h
		}, []string{"kind", "state"}),
		kindsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "kinds_total",
			Help: "Kinds of the mapping that ended within a resync, by kind id and state (completed, failed, aborted).",
		}, []string{"kind", "state"}),
		entities: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "entities_total",
			Help: "Items and entities by kind id and outcome: fetched, mapped, filtered, dropped, upserted, unchanged, failed; deleted under kind __reconciliation__.",
		}, []string{"kind", "outcome"}),
		portRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "port_requests_total",
			Help: "HTTP attempts to Port by method, route template and status (\"error\": no answer).",
		}, []string{"method", "route", "status"}),
		portDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "port_request_duration_seconds",
			Help:    "Duration of HTTP attempts to Port by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		portLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "port_rate_limited_total",
			Help: "Answers 429 (rate limited) from Port by method and route template.",
		}, []string{"method", "route"}),
		portRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "port_retries_total",
			Help: "Retries of Port requests by method, route template and the status that caused them.",
		}, []string{"method", "route", "status"}),
		portWaited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "port_retry_wait_seconds_total",
			Help: "Time spent waiting before retries of Port requests (backoff, Retry-After), by method and route template.",
		}, []string{"method", "route"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Always 1; the version label is oceand's.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.resyncs, m.resyncDuration, m.lastSuccess, m.kindDuration, m.kindsFinished, m.entities,
		m.portRequests, m.portDuration, m.portLimited, m.portRetries, m.portWaited,
	)
	return m
}

// Registry is where the collectors are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the exposition (Prometheus text, or OpenMetrics when
// asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// Attempt counts one HTTP attempt to Port (port.Observer).
func (m *Metrics) Attempt(method, route string, status int, elapsed time.Duration) {
	m.portRequests.WithLabelValues(method, route, statusLabel(status)).Inc()
	m.portDuration.WithLabelValues(method, route).Observe(elapsed.Seconds())
	if status == http.StatusTooManyRequests {
		m.portLimited.WithLabelValues(method, route).Inc()
	}
}

// RetryWait counts a retry and its wait (port.Observer).
func (m *Metrics) RetryWait(method, route string, status int, wait time.Duration) {
	m.portRetries.WithLabelValues(method, route, statusLabel(status)).Inc()
	m.portWaited.WithLabelValues(method, route).Add(wait.Seconds())
}

func statusLabel(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}

// KindFinished records a kind's duration and counts (resync.Observer).
func (m *Metrics) KindFinished(kp store.KindProgress) {
	kind := kp.Kind + "-" + strconv.Itoa(kp.Index)
	m.kindsFinished.WithLabelValues(kind, kp.State).Inc()
	if !kp.StartedAt.IsZero() && !kp.FinishedAt.IsZero() {
		m.kindDuration.WithLabelValues(kind, kp.State).Observe(kp.FinishedAt.Sub(kp.StartedAt).Seconds())
	}
	for outcome, n := range map[string]int64{
		"fetched": kp.Fetched, "mapped": kp.Mapped, "filtered": kp.Filtered, "dropped": kp.Dropped,
		"upserted": kp.Upserted, "unchanged": kp.Unchanged, "failed": kp.Failed,
	} {
		m.entities.WithLabelValues(kind, outcome).Add(float64(n))
	}
}

// ReconcileFinished records the entities reconciliation deleted
// (resync.Observer).
func (m *Metrics) ReconcileFinished(rec store.Reconcile) {
	m.entities.WithLabelValues(ReconciliationKind, "deleted").Add(float64(rec.Deleted))
	if !rec.StartedAt.IsZero() && !rec.FinishedAt.IsZero() {
		m.kindDuration.WithLabelValues(ReconciliationKind, rec.State).Observe(rec.FinishedAt.Sub(rec.StartedAt).Seconds())
	}
}

// ReconciliationKind is the kind label of the reconciliation's series, as
// in Ocean's metrics.
const ReconciliationKind = "__reconciliation__"

// JobFinished records a job's end: its trigger, final state, duration and,
// on success, the time.
// Dry runs are not counted: they change nothing.
func (m *Metrics) JobFinished(j *store.Job) {
	if j.DryRun {
		return
	}
	m.resyncs.WithLabelValues(j.Trigger, string(j.State)).Inc()
	if j.StartedAt != nil && j.FinishedAt != nil {
		m.resyncDuration.WithLabelValues(string(j.State)).Observe(j.FinishedAt.Sub(*j.StartedAt).Seconds())
	}
	if j.State == store.JobSucceeded && j.FinishedAt != nil {
		m.SetLastSuccess(*j.FinishedAt)
	}
}

// SetLastSuccess sets the last successful resync's end (at start-up, from
// the job history).
func (m *Metrics) SetLastSuccess(t time.Time) {
	m.lastSuccess.Set(float64(t.UnixNano()) / 1e9)
}

// Gauges are read at scrape time; nil fields are not exposed.
type Gauges struct {
	// RateLimitBudget is the pacer's count of requests left in Port's
	// window and the window's limit; ok false until Port reported one.
	RateLimitBudget func() (remaining, limit int, ok bool)
	// Queue is the number of jobs running (0 or 1) and waiting (0 or 1).
	Queue func() (running, queued int)
	// Listener reports the event listener's health: nil is healthy.
	Listener     func() error
	ListenerType string
	// LogRecordsDropped counts log records not shipped to Port.
	LogRecordsDropped func() int64
	// PortReachable is false from a failed attempt to reach Port until
	// the next answer.
	PortReachable func() bool
}

// RegisterGauges adds the scrape-time gauges. Call it once.
func (m *Metrics) RegisterGauges(g Gauges) error {
	var cs []prometheus.Collector
	if g.RateLimitBudget != nil {
		budget := g.RateLimitBudget
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "port_ratelimit_remaining",
				Help: "Requests left in Port's current rate-limit window, by the pacer's count; -1 until Port reported its limits.",
			}, func() float64 {
				rem, _, ok := budget()
				if !ok {
					return -1
				}
				return float64(rem)
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "port_ratelimit_limit",
				Help: "Requests allowed per rate-limit window, as Port last reported it; -1 until then.",
			}, func() float64 {
				_, limit, ok := budget()
				if !ok {
					return -1
				}
				return float64(limit)
			}))
	}
	if g.Queue != nil {
		queue := g.Queue
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "resync_running", Help: "1 while a resync job runs.",
			}, func() float64 { r, _ := queue(); return float64(r) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "resync_queue_depth", Help: "Resync jobs waiting to run (at most 1: later triggers merge into it).",
			}, func() float64 { _, q := queue(); return float64(q) }))
	}
	if g.Listener != nil {
		healthy := g.Listener
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "listener_healthy",
			Help:        "1 when the event listener is healthy (its last poll or fetch worked), else 0.",
			ConstLabels: prometheus.Labels{"type": g.ListenerType},
		}, func() float64 {
			if healthy() != nil {
				return 0
			}
			return 1
		}))
	}
	if g.PortReachable != nil {
		reachable := g.PortReachable
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "port_reachable",
			Help: "1 while Port answers, 0 from a failed attempt (no answer, 502, 503, 504) until it answers again.",
		}, func() float64 {
			if reachable() {
				return 1
			}
			return 0
		}))
	}
	if g.LogRecordsDropped != nil {
		dropped := g.LogRecordsDropped
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "log_records_dropped_total",
			Help: "Log records that were not shipped to Port (buffer full, Port slow or down).",
		}, func() float64 { return float64(dropped()) }))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
