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
	Fetched   int64 `json:"fetched"`
	Mapped    int64 `json:"mapped"`
	Filtered  int64 `json:"filtered"`
	Upserted  int64 `json:"upserted"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
	Deleted   int64 `json:"deleted"`
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

// SyncKindMetrics is one kind's entry of Port's sync metrics. Metrics holds
// Ocean's object counts by phase (extract raw_extracted; transform
// transformed, filtered_out, failed; load loaded, skipped; delete deleted)
// and the kind's duration; Counts holds the same figures under oceand's
// names, as `oceand jobs show` prints them.
type SyncKindMetrics struct {
	EventID string `json:"eventId"`
	// KindIdentifier is <kind>-<index>, or __reconciliation__.
	KindIdentifier string         `json:"kindIdentifier"`
	Kind           string         `json:"kind"`
	SyncState      string         `json:"syncState"`
	SyncStart      *time.Time     `json:"syncStart,omitempty"`
	SyncEnd        *time.Time     `json:"syncEnd,omitempty"`
	Metrics        map[string]any `json:"metrics"`
	Counts         SyncCounts     `json:"counts"`
}

// NewSyncKindMetrics fills Metrics from counts and duration.
func NewSyncKindMetrics(eventID, kindID, kind, state string, start, end *time.Time, counts SyncCounts) SyncKindMetrics {
	phases := map[string]any{
		"extract":   map[string]any{"raw_extracted": counts.Fetched},
		"transform": map[string]any{"transformed": counts.Mapped, "filtered_out": counts.Filtered, "failed": counts.Failed},
		"load":      map[string]any{"loaded": counts.Upserted, "skipped": counts.Unchanged},
		"delete":    map[string]any{"deleted": counts.Deleted},
	}
	m := map[string]any{"object_count": phases}
	if start != nil && end != nil {
		m["duration_seconds"] = end.Sub(*start).Seconds()
	}
	if state == SyncCompleted || state == SyncFailed {
		success := 0
		if state == SyncCompleted {
			success = 1
		}
		m["success"] = success
	}
	return SyncKindMetrics{EventID: eventID, KindIdentifier: kindID, Kind: kind, SyncState: state, SyncStart: start, SyncEnd: end, Metrics: m, Counts: counts}
}

// PostSyncMetrics announces a resync's kinds to Port's metrics ingest
// (POST <ingestUrl>/syncMetrics, {"syncKindsMetrics": [...]}).
func (c *Client) PostSyncMetrics(ctx context.Context, ingestURL string, kinds []SyncKindMetrics) error {
	r := request{method: http.MethodPost, url: joinURL(ingestURL, "/syncMetrics"), route: "{metricIngestUrl}/syncMetrics",
		body: map[string]any{"syncKindsMetrics": kinds}, unpaced: true}
	return c.ingest(ctx, ingestURL, r)
}

// PutKindSyncMetrics reports one kind's end (PUT
// <ingestUrl>/syncMetrics/resync/{eventId}/kind/{kindIdentifier},
// {"syncKindMetrics": {...}}).
func (c *Client) PutKindSyncMetrics(ctx context.Context, ingestURL string, m SyncKindMetrics) error {
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
