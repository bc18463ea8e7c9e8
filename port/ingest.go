package port

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Pacer returns the client's pacer (for its remaining budget).
func (c *Client) Pacer() *Pacer { return c.pacer }

// PostKindExamples sends raw examples of a kind for Port's mapping editor
// (POST /v1/integration/{id}/kinds/{kind}/examples, {"examples": [...]}).
// The caller masks secrets first.
func (c *Client) PostKindExamples(ctx context.Context, kind string, examples []json.RawMessage) error {
	r := request{
		method: http.MethodPost,
		path:   integrationPath(c.cfg.IntegrationIdentifier) + "/kinds/" + url.PathEscape(kind) + "/examples",
		body:   map[string]any{"examples": examples},
	}
	_, err := c.do(ctx, r, nil)
	return err
}

// IngestLogs posts a batch of log records, already encoded as a JSON array,
// to Port's log ingest URL as {"logs": [...]}. It is sent once: a lost
// batch is not worth holding the next one back.
func (c *Client) IngestLogs(ctx context.Context, ingestURL string, records json.RawMessage) error {
	if ingestURL == "" {
		return errors.New("port: no log ingest URL")
	}
	body := make([]byte, 0, len(records)+10)
	body = append(body, `{"logs":`...)
	body = append(body, records...)
	body = append(body, '}')
	r := request{method: http.MethodPost, url: ingestURL, route: "{logIngestUrl}", rawBody: body, unpaced: true, noRetry: true}
	_, err := c.do(ctx, r, nil)
	return err
}

// SyncCounts are oceand's counters of one kind (or of the reconciliation,
// Deleted only) as sent with sync metrics.
type SyncCounts struct {
	Fetched   int64
	Mapped    int64
	Filtered  int64
	Dropped   int64 // the mapping gave no valid identifier or blueprint
	Upserted  int64
	Unchanged int64
	Failed    int64 // refused by Port
	Deleted   int64
}

// Sync states of a kind in sync metrics.
const (
	SyncPending   = "pending"
	SyncSyncing   = "syncing"
	SyncCompleted = "completed"
	SyncFailed    = "failed"
	SyncAborted   = "aborted"
)

// ReconciliationKind is the kind identifier of the reconciliation's sync
// metrics.
const ReconciliationKind = "__reconciliation__"

// SyncKindMetrics is one kind's entry of Port's sync metrics, in Ocean's
// shape. The client fills the integration's fields when it sends it.
type SyncKindMetrics struct {
	IntegrationType       string `json:"integrationType"`
	IntegrationIdentifier string `json:"integrationIdentifier"`
	IntegrationVersion    string `json:"integrationVersion"`
	OceanVersion          string `json:"oceanVersion"`
	// KindIdentifier is <kind>-<index>, or __reconciliation__.
	KindIdentifier string `json:"kindIdentifier"`
	Kind           string `json:"kind"`
	KindIndex      int    `json:"kindIndex"`
	EventID        string `json:"eventId"`
	SyncState      string `json:"syncState"`
	// Metrics nests Ocean's gauges by their labels after kind:
	// phase.resync.{duration_seconds,success} and
	// phase.<phase>.object_count_type.<type>.object_count.
	Metrics map[string]any `json:"metrics"`
}

// NewSyncKindMetrics builds a kind's entry from oceand's counts: extract
// raw_extracted (fetched); transform transformed (mapped), filtered_out,
// failed (dropped by the mapping); load loaded (upserted), skipped
// (unchanged), failed (refused by Port); for the reconciliation, delete
// deleted. success is 1 once the kind completed. index is the kind's index
// in the mapping (0 for the reconciliation).
func NewSyncKindMetrics(eventID, kindID, kind string, index int, state string, duration time.Duration, c SyncCounts) SyncKindMetrics {
	counts := func(types map[string]int64) map[string]any {
		out := make(map[string]any, len(types))
		for t, n := range types {
			out[t] = map[string]any{"object_count": n}
		}
		return map[string]any{"object_count_type": out}
	}
	success := 0
	if state == SyncCompleted {
		success = 1
	}
	phases := map[string]any{"resync": map[string]any{"duration_seconds": duration.Seconds(), "success": success}}
	if kindID == ReconciliationKind {
		phases["delete"] = counts(map[string]int64{"deleted": c.Deleted})
	} else {
		phases["extract"] = counts(map[string]int64{"raw_extracted": c.Fetched})
		phases["transform"] = counts(map[string]int64{"transformed": c.Mapped, "filtered_out": c.Filtered, "failed": c.Dropped})
		phases["load"] = counts(map[string]int64{"loaded": c.Upserted, "skipped": c.Unchanged, "failed": c.Failed})
	}
	return SyncKindMetrics{KindIdentifier: kindID, Kind: kind, KindIndex: index, EventID: eventID, SyncState: state,
		Metrics: map[string]any{"phase": phases}}
}

// withIntegration names the integration in an entry, as Ocean does.
func (c *Client) withIntegration(m SyncKindMetrics) SyncKindMetrics {
	m.IntegrationType, m.IntegrationIdentifier = c.cfg.IntegrationType, c.cfg.IntegrationIdentifier
	m.IntegrationVersion, m.OceanVersion = c.cfg.IntegrationVersion, c.cfg.IntegrationVersion
	return m
}

// PostSyncMetrics announces a resync's kinds to Port's metrics ingest
// (POST <ingestUrl>/syncMetrics, {"syncKindsMetrics": [...]}).
func (c *Client) PostSyncMetrics(ctx context.Context, ingestURL string, kinds []SyncKindMetrics) error {
	named := make([]SyncKindMetrics, len(kinds))
	for i, m := range kinds {
		named[i] = c.withIntegration(m)
	}
	r := request{method: http.MethodPost, url: joinURL(ingestURL, "/syncMetrics"), route: "{metricIngestUrl}/syncMetrics",
		body: map[string]any{"syncKindsMetrics": named}, unpaced: true}
	return c.ingest(ctx, ingestURL, r)
}

// PutKindSyncMetrics reports one kind's end (PUT
// <ingestUrl>/syncMetrics/resync/{eventId}/kind/{kindIdentifier},
// {"syncKindMetrics": {...}}).
func (c *Client) PutKindSyncMetrics(ctx context.Context, ingestURL string, m SyncKindMetrics) error {
	m = c.withIntegration(m)
	r := request{method: http.MethodPut,
		url:   joinURL(ingestURL, "/syncMetrics/resync/"+url.PathEscape(m.EventID)+"/kind/"+url.PathEscape(m.KindIdentifier)),
		route: "{metricIngestUrl}/syncMetrics/resync/{eventId}/kind/{kind}",
		body:  map[string]any{"syncKindMetrics": m}, unpaced: true}
	return c.ingest(ctx, ingestURL, r)
}

// PostHeartbeat tells Port a resync is alive (POST <ingestUrl>/heartbeat,
// {"eventId": ...}).
func (c *Client) PostHeartbeat(ctx context.Context, ingestURL, eventID string) error {
	r := request{method: http.MethodPost, url: joinURL(ingestURL, "/heartbeat"), route: "{metricIngestUrl}/heartbeat",
		body: map[string]any{"eventId": eventID}, unpaced: true, noRetry: true}
	return c.ingest(ctx, ingestURL, r)
}

func (c *Client) ingest(ctx context.Context, ingestURL string, r request) error {
	if ingestURL == "" {
		return errors.New("port: no metrics ingest URL")
	}
	_, err := c.do(ctx, r, nil)
	return err
}

func joinURL(base, path string) string { return strings.TrimRight(base, "/") + path }
