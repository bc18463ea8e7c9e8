package emulator

import (
	"encoding/json"
	"net/http"
	"time"
)

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/auth/access_token", s.handleToken)
	m.HandleFunc("GET /v1/organization", s.handleOrganization)
	m.HandleFunc("GET /v1/kafka-credentials", s.handleKafkaCredentials)

	m.HandleFunc("GET /v1/integration/provision-enabled", s.handleProvisionEnabled)
	m.HandleFunc("GET /v1/integration", s.handleListIntegrations)
	m.HandleFunc("POST /v1/integration", s.handleCreateIntegration)
	m.HandleFunc("GET /v1/integration/{id}", s.handleGetIntegration)
	m.HandleFunc("PATCH /v1/integration/{id}", s.handlePatchIntegration)
	m.HandleFunc("DELETE /v1/integration/{id}", s.handleDeleteIntegration)
	m.HandleFunc("PATCH /v1/integration/{id}/config", s.handlePatchIntegrationConfig)
	m.HandleFunc("PATCH /v1/integration/{id}/resync-state", s.handleResyncState)
	m.HandleFunc("GET /v1/integration/{id}/resync-request", s.handleResyncRequest)
	m.HandleFunc("POST /v1/integration/{id}/kinds/{kind}/examples", s.handleKindExamples)
	m.HandleFunc("GET /v1/integration/{id}/cursor", s.handleGetCursor)
	m.HandleFunc("PUT /v1/integration/{id}/cursor", s.handlePutCursor)
	m.HandleFunc("POST /v1/integration/{id}/cursor", s.handleOK)

	m.HandleFunc("GET /v1/blueprints", s.handleListBlueprints)
	m.HandleFunc("POST /v1/blueprints", s.handleCreateBlueprint)
	m.HandleFunc("GET /v1/blueprints/{bp}", s.handleGetBlueprint)
	m.HandleFunc("PATCH /v1/blueprints/{bp}", s.handlePatchBlueprint)
	m.HandleFunc("PUT /v1/blueprints/{bp}", s.handlePutBlueprint)
	m.HandleFunc("DELETE /v1/blueprints/{bp}", s.handleDeleteBlueprint)
	m.HandleFunc("DELETE /v1/blueprints/{bp}/all-entities", s.handleDeleteAllEntities)
	m.HandleFunc("GET /v1/migrations/{id}", s.handleGetMigration)

	m.HandleFunc("POST /v1/blueprints/{bp}/entities", s.handleUpsertEntity)
	m.HandleFunc("POST /v1/blueprints/{bp}/entities/bulk", s.handleBulkUpsert)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities", s.handleListEntities)
	m.HandleFunc("GET /v1/blueprints/{bp}/entities/{id}", s.handleGetEntity)
	m.HandleFunc("DELETE /v1/blueprints/{bp}/entities/{id}", s.handleDeleteEntity)
	m.HandleFunc("POST /v1/blueprints/{bp}/bulk/entities/delete", s.handleBulkDelete)
	m.HandleFunc("POST /v1/blueprints/entities/datasource-entities", s.handleDatasourceEntities)
	m.HandleFunc("POST /v1/entities/search", s.handleSearch)

	// Log and metric sinks: the integration's ingestUrls point here.
	m.HandleFunc("POST /ingest/logs/{id}", s.handleIngestLogs)
	m.HandleFunc("POST /ingest/metrics/{id}/syncMetrics", s.handleIngestSyncMetrics)
	m.HandleFunc("PUT /ingest/metrics/{id}/syncMetrics/resync/{event}/kind/{kind}", s.handleIngestKindMetrics)
	m.HandleFunc("POST /ingest/metrics/{id}/heartbeat", s.handleIngestHeartbeat)
	m.HandleFunc("/ingest/", s.handleOK)

	// Admin routes: what the integration sent for Port's UI.
	m.HandleFunc("GET /_emulator/integrations/{id}/examples", s.handleAdminExamples)
	m.HandleFunc("GET /_emulator/integrations/{id}/logs", s.handleAdminLogs)
	m.HandleFunc("GET /_emulator/integrations/{id}/sync-metrics", s.handleAdminSyncMetrics)
	m.HandleFunc("GET /_emulator/integrations/{id}/heartbeats", s.handleAdminHeartbeats)
	return m
}

func (s *Server) handleOK(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	id, _ := body["clientId"].(string)
	secret, _ := body["clientSecret"].(string)
	if id == "" || secret == "" || len(body) != 2 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be exactly {clientId, clientSecret}")
		return
	}
	if id != s.cfg.ClientID || secret != s.cfg.ClientSecret {
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong client id or secret")
		return
	}
	now := s.now()
	s.mu.Lock()
	// Port hands out the same token until it expires.
	var tok string
	var exp time.Time
	for t, e := range s.tokens {
		if now.Before(e) {
			tok, exp = t, e
			break
		}
	}
	if tok == "" {
		exp = now.Add(s.cfg.TokenTTL)
		tok = newToken(id, exp)
		s.tokens[tok] = exp
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "accessToken": tok, "tokenType": "Bearer",
		"expiresIn": int(exp.Sub(now).Seconds()),
	})
}

func (s *Server) handleOrganization(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "organization": map[string]any{
		"id": s.cfg.OrgID, "name": "Emulated organization", "featureFlags": []string{},
	}})
}

func (s *Server) handleKafkaCredentials(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "credentials": map[string]any{"username": "emulator", "password": "emulator"}})
}

func (s *Server) handleProvisionEnabled(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "integrations": []string{}})
}

func (s *Server) handleListEntities(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	if !s.lockBlueprint(w, bp) {
		return
	}
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.entities[bp]))
	for _, id := range sortedKeys(s.entities[bp]) {
		out = append(out, s.entities[bp][id].view())
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entities": out})
}

func (s *Server) handleGetEntity(w http.ResponseWriter, r *http.Request) {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	if !s.lockBlueprint(w, bp) {
		return
	}
	defer s.mu.Unlock()
	e := s.entities[bp][id]
	if e == nil {
		writeNotFound(w, "entity", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entity": e.view()})
}

// normalize turns json.Number leaves (from UseNumber decoding) into
// float64, the type Port's JSON would come back as.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return t.String()
		}
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	default:
		return v
	}
}
