package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

func (s *Server) integrationView(id string) map[string]any {
	rec := s.integrations[id]
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	return out
}

// handleCreateIntegration registers an integration. With upsert=true an
// existing record is updated with the fields sent instead of failing 409.
func (s *Server) handleCreateIntegration(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	id, _ := body["installationId"].(string)
	if id == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "installationId is required and must be a non-empty string")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := formatTime(s.now())
	rec := s.integrations[id]
	switch {
	case rec != nil && !boolQuery(r, "upsert"):
		writeError(w, http.StatusConflict, "identifier_taken", fmt.Sprintf("integration %q already exists", id))
		return
	case rec == nil:
		base := s.baseURL(r)
		rec = map[string]any{
			"identifier":           id,
			"installationType":     "OnPrem",
			"changelogDestination": map[string]any{},
			"config":               map[string]any{},
			"resyncState": map[string]any{
				"status": nil, "lastResyncStart": nil, "lastResyncEnd": nil, "nextResync": nil,
				"intervalInMinuets": nil, "updatedAt": now,
			},
			"logAttributes":    map[string]any{"ingestId": "log_" + id, "ingestUrl": base + "/ingest/logs/" + id},
			"metricAttributes": map[string]any{"ingestId": "metric_" + id, "ingestUrl": base + "/ingest/metrics/" + id},
			"ingestAttributes": map[string]any{"ingestUrl": base + "/ingest/lake/" + id},
			"_orgId":           s.cfg.OrgID,
			"_id":              newID("integration_"),
			"clientId":         s.cfg.ClientID,
			"createdAt":        now,
			"createdBy":        s.cfg.ClientID,
		}
		s.integrations[id] = rec
	}
	for k, v := range body {
		rec[k] = v
	}
	rec["updatedAt"], rec["updatedBy"] = now, s.cfg.ClientID
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handleListIntegrations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.integrations))
	for _, id := range sortedKeys(s.integrations) {
		out = append(out, s.integrationView(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integrations": out})
}

func (s *Server) handleGetIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.lockIntegration(w, id); !ok {
		return
	}
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handleDeleteIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.lockIntegration(w, id); !ok {
		return
	}
	defer s.mu.Unlock()
	delete(s.integrations, id)
	delete(s.requests, id)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// handlePatchIntegration stores every field as sent. An empty body is Port's
// "simple resync": it only creates a resync request. A body with config
// creates one too, unless the header x-skip-resync: true is sent.
func (s *Server) handlePatchIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	rec, ok := s.lockIntegration(w, id)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	_, hasConfig := body["config"]
	for k, v := range body {
		rec[k] = v
	}
	now := s.now()
	rec["updatedAt"], rec["updatedBy"] = formatTime(now), s.cfg.ClientID
	if (len(body) == 0 || hasConfig) && r.Header.Get("x-skip-resync") != "true" {
		s.requestResyncLocked(id, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handlePatchIntegrationConfig(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	cfg, ok := body["config"]
	if !ok || len(body) != 1 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be exactly {\"config\": {...} | null}")
		return
	}
	if _, isObject := cfg.(map[string]any); !isObject && cfg != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "config must be an object or null")
		return
	}
	rec, ok := s.lockIntegration(w, id)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	rec["config"] = cfg
	now := s.now()
	rec["updatedAt"], rec["updatedBy"] = formatTime(now), s.cfg.ClientID
	if r.Header.Get("x-skip-resync") != "true" {
		s.requestResyncLocked(id, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

// requestResyncLocked records a resync request and, for a WEBHOOK
// changelog destination, announces it to the destination's url.
func (s *Server) requestResyncLocked(id string, now time.Time) {
	req := &resyncRequest{ID: newID("rr_"), UpdatedAt: now}
	s.requests[id] = req
	dest, _ := s.integrations[id]["changelogDestination"].(map[string]any)
	url, _ := dest["url"].(string)
	if dest["type"] != "WEBHOOK" || url == "" {
		return
	}
	body, _ := json.Marshal(map[string]any{
		"action": "RESYNC", "resourceType": "integration", "status": "TRIGGERED",
		"context": map[string]any{"integrationId": id}, "requestId": req.ID,
		"trigger": map[string]any{"by": map[string]any{"orgId": s.cfg.OrgID}, "at": formatTime(now)},
	})
	s.bg.Go(func() { s.deliverWebhook(url, body) })
}

func (s *Server) deliverWebhook(url string, body []byte) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		s.logger.Warn("webhook delivery failed", "url", url, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.WebhookClient.Do(req)
	if err != nil {
		s.logger.Warn("webhook delivery failed", "url", url, "err", err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		s.logger.Warn("webhook delivery refused", "url", url, "status", resp.StatusCode)
	}
}

// RequestResync creates a resync request, as a user pressing "Resync" does.
func (s *Server) RequestResync(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestResyncLocked(id, s.now())
}

// handleResyncState merges the reported state into resyncState and sets
// its updatedAt and the integration's to the same instant: Ocean's Kafka
// consumer skips changes where the two are equal (state-only updates).
func (s *Server) handleResyncState(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	if st, has := body["status"]; has {
		switch st {
		case "running", "completed", "failed", "aborted":
		default:
			writeError(w, http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("status must be running, completed, failed or aborted, got %v", st))
			return
		}
	}
	rec, ok := s.lockIntegration(w, id)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	state, _ := rec["resyncState"].(map[string]any)
	state = cloneMap(state)
	for k, v := range body {
		state[k] = v
	}
	now := formatTime(s.now())
	state["updatedAt"] = now
	rec["resyncState"] = state
	rec["updatedAt"] = now
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handleResyncRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.lockIntegration(w, id); !ok {
		return
	}
	defer s.mu.Unlock()
	req := s.requests[id]
	if req == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "request": nil})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "request": map[string]any{
		"id": req.ID, "updatedAt": formatTime(req.UpdatedAt),
	}})
}

// Incremental-sync cursor stubs: Ocean reads a cursor, tries PUT and falls
// back to POST on 404.
func (s *Server) handleGetCursor(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "cursor": nil})
}

func (s *Server) handlePutCursor(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not_found", "no cursor to update")
}
