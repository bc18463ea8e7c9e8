package emulator

import (
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

func (s *Server) handleCreateIntegration(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	id, _ := body["installationId"].(string)
	if id == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "installationId is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.integrations[id] != nil && !boolQuery(r, "upsert") {
		writeError(w, http.StatusConflict, "identifier_taken", "integration "+id+" already exists")
		return
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	rec := map[string]any{
		"identifier":           id,
		"installationType":     "OnPrem",
		"changelogDestination": map[string]any{},
		"config":               map[string]any{},
		"resyncState":          map[string]any{"status": nil, "updatedAt": now},
		"logAttributes":        map[string]any{"ingestId": "log_" + id, "ingestUrl": s.url + "/ingest/logs/" + id},
		"metricAttributes":     map[string]any{"ingestId": "metric_" + id, "ingestUrl": s.url + "/ingest/metrics/" + id},
		"ingestAttributes":     map[string]any{"ingestUrl": s.url + "/ingest/lake/" + id},
		"createdAt":            now,
		"updatedAt":            now,
		"createdBy":            s.cfg.ClientID,
		"updatedBy":            s.cfg.ClientID,
	}
	for k, v := range body {
		rec[k] = v
	}
	s.integrations[id] = rec
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handleGetIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.integrations[id] == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration "+id+" was not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

// handlePatchIntegration stores every field as sent. An empty body is Port's
// "simple resync": it only creates a resync request. A change of config
// creates one too.
func (s *Server) handlePatchIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.integrations[id]
	if rec == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration "+id+" was not found")
		return
	}
	_, configChanged := body["config"]
	for k, v := range body {
		rec[k] = v
	}
	now := s.now()
	rec["updatedAt"] = now.UTC().Format(time.RFC3339Nano)
	if len(body) == 0 || configChanged {
		s.newResyncRequest(id, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handlePatchIntegrationConfig(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	cfg, ok := body["config"]
	if !ok || len(body) != 1 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be exactly {config}")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.integrations[id]
	if rec == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration "+id+" was not found")
		return
	}
	rec["config"] = cfg
	now := s.now()
	rec["updatedAt"] = now.UTC().Format(time.RFC3339Nano)
	if r.Header.Get("x-skip-resync") != "true" {
		s.newResyncRequest(id, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) newResyncRequest(id string, now time.Time) {
	s.requests[id] = &resyncRequest{ID: newID("rr_"), UpdatedAt: now}
}

// RequestResync creates a resync request, as a user pressing "Resync" does.
func (s *Server) RequestResync(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.newResyncRequest(id, s.now())
}

func (s *Server) handleResyncState(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.integrations[id]
	if rec == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration "+id+" was not found")
		return
	}
	state, _ := rec["resyncState"].(map[string]any)
	if state == nil {
		state = map[string]any{}
	}
	for k, v := range body {
		state[k] = v
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	state["updatedAt"] = now
	rec["resyncState"] = state
	rec["updatedAt"] = now
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integration": s.integrationView(id)})
}

func (s *Server) handleResyncRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.integrations[id] == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration "+id+" was not found")
		return
	}
	req := s.requests[id]
	if req == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "request": nil})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "request": map[string]any{
		"id": req.ID, "updatedAt": req.UpdatedAt.UTC().Format(time.RFC3339Nano),
	}})
}
