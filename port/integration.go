package port

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Integration is Port's record of an installed integration.
type Integration struct {
	Identifier                  string          `json:"identifier"`
	InstallationID              string          `json:"installationId"`
	InstallationAppType         string          `json:"installationAppType"`
	InstallationType            string          `json:"installationType"`
	Version                     string          `json:"version"`
	Title                       string          `json:"title,omitempty"`
	Config                      json.RawMessage `json:"config"`
	ChangelogDestination        map[string]any  `json:"changelogDestination"`
	ResyncState                 *ResyncState    `json:"resyncState,omitempty"`
	ArePortResourcesInitialized bool            `json:"arePortResourcesInitialized"`
	ActionsProcessingEnabled    bool            `json:"actionsProcessingEnabled"`
	IncrementalSyncEnabled      bool            `json:"incrementalSyncEnabled"`
	ProcessingMode              string          `json:"processingMode,omitempty"`
	CreatePortResourcesOrigin   string          `json:"createPortResourcesOrigin,omitempty"`
	UpdatedAt                   string          `json:"updatedAt,omitempty"`
	// LogAttributes and MetricAttributes locate Port's ingest for the
	// integration's logs and sync metrics.
	LogAttributes    *IngestAttributes `json:"logAttributes,omitempty"`
	MetricAttributes *IngestAttributes `json:"metricAttributes,omitempty"`
}

// IngestAttributes locate one of Port's ingest endpoints.
type IngestAttributes struct {
	IngestID  string `json:"ingestId,omitempty"`
	IngestURL string `json:"ingestUrl"`
}

// LogIngestURL is where the integration's logs go; "" when Port gave none.
func (i *Integration) LogIngestURL() string {
	if i == nil || i.LogAttributes == nil {
		return ""
	}
	return i.LogAttributes.IngestURL
}

// MetricIngestURL is the root of the integration's sync metrics and
// heartbeats; "" when Port gave none.
func (i *Integration) MetricIngestURL() string {
	if i == nil || i.MetricAttributes == nil {
		return ""
	}
	return i.MetricAttributes.IngestURL
}

// HasConfig reports whether the integration holds a non-empty mapping.
func (i *Integration) HasConfig() bool {
	if len(i.Config) == 0 {
		return false
	}
	var m map[string]any
	if err := json.Unmarshal(i.Config, &m); err != nil {
		return false
	}
	return len(m) > 0
}

// ResyncState is what the integration reports about its resyncs. The key
// intervalInMinuets is misspelled on purpose: it is the key Port reads.
type ResyncState struct {
	Status            string     `json:"status"`
	LastResyncStart   *time.Time `json:"lastResyncStart,omitempty"`
	LastResyncEnd     *time.Time `json:"lastResyncEnd"`
	NextResync        *time.Time `json:"nextResync"`
	IntervalInMinuets *int       `json:"intervalInMinuets"`
	UpdatedAt         string     `json:"updatedAt,omitempty"`
}

// Resync states Port understands.
const (
	ResyncRunning   = "running"
	ResyncCompleted = "completed"
	ResyncFailed    = "failed"
	ResyncAborted   = "aborted"
)

type integrationEnvelope struct {
	Integration *Integration `json:"integration"`
}

func integrationPath(id string) string { return "/integration/" + url.PathEscape(id) }

// GetIntegration reads the integration record. A missing integration is an
// error matching ErrNotFound.
func (c *Client) GetIntegration(ctx context.Context) (*Integration, error) {
	var out integrationEnvelope
	q := url.Values{"oceanCoreVersion": {c.cfg.IntegrationVersion}, "isPolling": {"false"}}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: integrationPath(c.cfg.IntegrationIdentifier), query: q}, &out); err != nil {
		return nil, err
	}
	if out.Integration == nil {
		return nil, &Error{Method: http.MethodGet, Route: integrationPath(c.cfg.IntegrationIdentifier), Status: http.StatusNotFound, Message: "no integration in response"}
	}
	return out.Integration, nil
}

// CreateIntegration registers the integration. body holds Ocean's creation
// fields (installationAppType, version, changelogDestination, config, ...);
// installationId is set here. It is retried only when Port surely did not
// process it (429, no connection): a replay would answer 409.
func (c *Client) CreateIntegration(ctx context.Context, body map[string]any) (*Integration, error) {
	b := make(map[string]any, len(body)+1)
	for k, v := range body {
		b[k] = v
	}
	b["installationId"] = c.cfg.IntegrationIdentifier
	var out integrationEnvelope
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/integration", body: b, unsafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Integration, nil
}

// PatchIntegration updates fields of the integration record. Like Ocean,
// it is not replayed after an answer was lost (an empty or config PATCH
// creates a resync request each time), but it is retried on 429 and when no
// connection could be made, where Port did not process it.
func (c *Client) PatchIntegration(ctx context.Context, patch map[string]any) (*Integration, error) {
	var out integrationEnvelope
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: integrationPath(c.cfg.IntegrationIdentifier), body: patch, unsafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Integration, nil
}

// PatchIntegrationConfig replaces the mapping. skipResync asks Port not to
// create a resync request for this change. Retried as PatchIntegration.
func (c *Client) PatchIntegrationConfig(ctx context.Context, config any, skipResync bool) (*Integration, error) {
	var out integrationEnvelope
	r := request{method: http.MethodPatch, path: integrationPath(c.cfg.IntegrationIdentifier) + "/config", body: map[string]any{"config": config}, unsafe: true}
	if skipResync {
		r.headers = map[string]string{"x-skip-resync": "true"}
	}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Integration, nil
}

// PatchResyncState reports a resync's state to Port. Unlike Ocean it is
// retried: a lost "completed" would leave Port showing a running resync.
func (c *Client) PatchResyncState(ctx context.Context, s ResyncState) (*Integration, error) {
	var out integrationEnvelope
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: integrationPath(c.cfg.IntegrationIdentifier) + "/resync-state", body: s}, &out); err != nil {
		return nil, err
	}
	return out.Integration, nil
}

// ResyncRequest is the newest resync request Port holds for the integration.
type ResyncRequest struct {
	ID        string `json:"id,omitempty"`
	UpdatedAt string `json:"updatedAt"`
}

// GetResyncRequest returns the newest resync request, or nil when there is none.
func (c *Client) GetResyncRequest(ctx context.Context) (*ResyncRequest, error) {
	var out struct {
		Request *ResyncRequest `json:"request"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: integrationPath(c.cfg.IntegrationIdentifier) + "/resync-request"}, &out); err != nil {
		return nil, err
	}
	if out.Request == nil || out.Request.UpdatedAt == "" {
		return nil, nil
	}
	return out.Request, nil
}
