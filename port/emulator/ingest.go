package emulator

import (
	"net/http"
)

// What the emulator keeps of the integration's visibility traffic, per
// integration, bounded like everything a long-running `oceand
// port-emulator` holds: the newest records win.
const (
	maxStoredLogs       = 10000
	maxStoredHeartbeats = 1000
	maxStoredMetrics    = 1000
)

// visibility is what an integration sent to Port for its UI: raw data
// examples, log records, sync metrics and heartbeats.
type visibility struct {
	examples      map[string]*kindExamples
	logs          []any
	logBatches    int
	syncResyncs   []any // bodies of POST syncMetrics
	syncKinds     []any // bodies of PUT .../kind/{kind}, with the path's ids
	heartbeats    []any
	droppedStored int // records dropped to stay within the bounds above
}

type kindExamples struct {
	Examples []any `json:"examples"`
	Posts    int   `json:"posts"`
}

func (s *Server) visibilityLocked(id string) *visibility {
	v := s.visible[id]
	if v == nil {
		v = &visibility{examples: map[string]*kindExamples{}}
		s.visible[id] = v
	}
	return v
}

// appendBounded appends items to list, keeping the newest max.
func appendBounded(v *visibility, list []any, max int, items ...any) []any {
	list = append(list, items...)
	if over := len(list) - max; over > 0 {
		v.droppedStored += over
		list = append(list[:0:0], list[over:]...)
	}
	return list
}

// handleKindExamples stores the examples of a kind; a new post replaces
// the kind's examples, as the mapping editor shows the latest ones.
func (s *Server) handleKindExamples(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	examples, ok := body["examples"].([]any)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be {\"examples\": [...]}")
		return
	}
	id, kind := r.PathValue("id"), r.PathValue("kind")
	if _, ok := s.lockIntegration(w, id); !ok {
		return
	}
	defer s.mu.Unlock()
	v := s.visibilityLocked(id)
	k := v.examples[kind]
	if k == nil {
		k = &kindExamples{}
		v.examples[kind] = k
	}
	k.Examples, k.Posts = examples, k.Posts+1
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// ingestAuthorized checks the token on an ingest route (outside /v1).
func (s *Server) ingestAuthorized(w http.ResponseWriter, r *http.Request) bool {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing, unknown or expired access token")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	return true
}

func (s *Server) handleIngestLogs(w http.ResponseWriter, r *http.Request) {
	if !s.ingestAuthorized(w, r) {
		return
	}
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	logs, ok := body["logs"].([]any)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be {\"logs\": [...]}")
		return
	}
	s.mu.Lock()
	v := s.visibilityLocked(r.PathValue("id"))
	v.logs = appendBounded(v, v.logs, maxStoredLogs, logs...)
	v.logBatches++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleIngestSyncMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.ingestAuthorized(w, r) {
		return
	}
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	if _, ok := body["syncKindsMetrics"].([]any); !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be {\"syncKindsMetrics\": [...]}")
		return
	}
	s.mu.Lock()
	v := s.visibilityLocked(r.PathValue("id"))
	v.syncResyncs = appendBounded(v, v.syncResyncs, maxStoredMetrics, body)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleIngestKindMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.ingestAuthorized(w, r) {
		return
	}
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	m, ok := body["syncKindMetrics"].(map[string]any)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be {\"syncKindMetrics\": {...}}")
		return
	}
	rec := map[string]any{"eventId": r.PathValue("event"), "kindIdentifier": r.PathValue("kind"), "syncKindMetrics": m}
	s.mu.Lock()
	v := s.visibilityLocked(r.PathValue("id"))
	v.syncKinds = appendBounded(v, v.syncKinds, maxStoredMetrics, rec)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleIngestHeartbeat(w http.ResponseWriter, r *http.Request) {
	if !s.ingestAuthorized(w, r) {
		return
	}
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	event, _ := body["eventId"].(string)
	if event == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be {\"eventId\": \"...\"}")
		return
	}
	s.mu.Lock()
	v := s.visibilityLocked(r.PathValue("id"))
	v.heartbeats = appendBounded(v, v.heartbeats, maxStoredHeartbeats, map[string]any{"eventId": event, "receivedAt": formatTime(s.now())})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// Admin routes (outside /v1, no token): what the integration sent for
// Port's UI, for tests and for people trying a daemon against
// `oceand port-emulator`.

func (s *Server) handleAdminExamples(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visibilityLocked(r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "kinds": v.examples})
}

func (s *Server) handleAdminLogs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visibilityLocked(r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "logs": nonNil(v.logs), "batches": v.logBatches, "droppedByEmulator": v.droppedStored})
}

func (s *Server) handleAdminSyncMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visibilityLocked(r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "resyncs": nonNil(v.syncResyncs), "kinds": nonNil(v.syncKinds)})
}

func (s *Server) handleAdminHeartbeats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visibilityLocked(r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "heartbeats": nonNil(v.heartbeats)})
}

func nonNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return append([]any{}, l...)
}
