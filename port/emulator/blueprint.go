package emulator

import (
	"fmt"
	"net/http"
)

func (s *Server) blueprintView(id string) map[string]any {
	bp := s.blueprints[id]
	out := make(map[string]any, len(bp)+2)
	for k, v := range bp {
		out[k] = v
	}
	if _, ok := out["relations"].(map[string]any); !ok {
		out["relations"] = map[string]any{}
	}
	schema, _ := out["schema"].(map[string]any)
	schema = cloneMap(schema)
	if _, ok := schema["properties"].(map[string]any); !ok {
		schema["properties"] = map[string]any{}
	}
	out["schema"] = schema
	return out
}

func (s *Server) handleListBlueprints(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.blueprints))
	for _, id := range sortedKeys(s.blueprints) {
		out = append(out, s.blueprintView(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "blueprints": out})
}

func (s *Server) handleCreateBlueprint(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.validateBlueprint(body); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", msg)
		return
	}
	id := body["identifier"].(string)
	if s.blueprints[id] != nil {
		writeError(w, http.StatusConflict, "identifier_taken", fmt.Sprintf("blueprint %q already exists", id))
		return
	}
	now := formatTime(s.now())
	body["createdAt"], body["updatedAt"] = now, now
	body["createdBy"], body["updatedBy"] = s.cfg.ClientID, s.cfg.ClientID
	s.blueprints[id] = body
	if s.entities[id] == nil {
		s.entities[id] = map[string]*entity{}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "blueprint": s.blueprintView(id)})
}

func (s *Server) handleGetBlueprint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("bp")
	if !s.lockBlueprint(w, id) {
		return
	}
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "blueprint": s.blueprintView(id)})
}

func (s *Server) handlePatchBlueprint(w http.ResponseWriter, r *http.Request) {
	s.updateBlueprint(w, r, true)
}

func (s *Server) handlePutBlueprint(w http.ResponseWriter, r *http.Request) {
	s.updateBlueprint(w, r, false)
}

// mergedBlueprintKeys are the map-valued blueprint keys a PATCH merges key
// by key (Ocean adds relations, then mirror and calculation properties, in
// separate PATCHes); other keys are replaced.
var mergedBlueprintKeys = set("relations", "mirrorProperties", "calculationProperties", "aggregationProperties")

// updateBlueprint merges (PATCH) or replaces (PUT) a blueprint.
func (s *Server) updateBlueprint(w http.ResponseWriter, r *http.Request, merge bool) {
	id := r.PathValue("bp")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.blueprints[id]
	if cur == nil {
		writeNotFound(w, "blueprint", id)
		return
	}
	next := map[string]any{}
	if merge {
		for k, v := range cur {
			next[k] = v
		}
	}
	for k, v := range body {
		switch {
		case merge && k == "schema":
			next[k] = mergeSchema(cur["schema"], v)
		case merge && mergedBlueprintKeys[k]:
			m, _ := cur[k].(map[string]any)
			m = cloneMap(m)
			p, _ := v.(map[string]any)
			for pk, pv := range p {
				m[pk] = pv
			}
			next[k] = m
		default:
			next[k] = v
		}
	}
	if bid, ok := body["identifier"].(string); ok && bid != id {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("identifier %q does not match the path blueprint %q", bid, id))
		return
	}
	next["identifier"] = id
	if msg := s.validateBlueprint(next); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", msg)
		return
	}
	next["createdAt"], next["createdBy"] = cur["createdAt"], cur["createdBy"]
	next["updatedAt"], next["updatedBy"] = formatTime(s.now()), s.cfg.ClientID
	s.blueprints[id] = next
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "blueprint": s.blueprintView(id)})
}

// mergeSchema merges schema.properties key by key; schema.required, when
// given, replaces the list.
func mergeSchema(cur, patch any) any {
	c, _ := cur.(map[string]any)
	p, ok := patch.(map[string]any)
	if c == nil || !ok {
		return patch
	}
	out := cloneMap(c)
	for k, v := range p {
		if k != "properties" {
			out[k] = v
			continue
		}
		cp, _ := c["properties"].(map[string]any)
		props := cloneMap(cp)
		pp, _ := v.(map[string]any)
		for pk, pv := range pp {
			props[pk] = pv
		}
		out[k] = props
	}
	return out
}

func (s *Server) handleDeleteBlueprint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("bp")
	if !s.lockBlueprint(w, id) {
		return
	}
	defer s.mu.Unlock()
	if n := len(s.entities[id]); n > 0 {
		writeError(w, http.StatusConflict, "has_entities", fmt.Sprintf("blueprint %q still has %d entities; delete them first", id, n))
		return
	}
	delete(s.blueprints, id)
	delete(s.entities, id)
	s.keysStale = true
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// handleDeleteAllEntities deletes every entity of a blueprint (and, with
// delete_blueprint=true, the blueprint). Port runs it as an asynchronous
// migration; here it completes before the answer, and the migration
// reports COMPLETE.
func (s *Server) handleDeleteAllEntities(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	if !s.lockBlueprint(w, bp) {
		return
	}
	defer s.mu.Unlock()
	for _, id := range sortedKeys(s.entities[bp]) {
		for _, d := range s.dependentsLocked(bp, id) {
			if d.Blueprint != bp {
				writeError(w, http.StatusForbidden, "has_dependents", fmt.Sprintf("entity %q has dependents (%s/%s) through a required relation", id, d.Blueprint, d.Identifier))
				return
			}
		}
	}
	s.entities[bp] = map[string]*entity{}
	s.keysStale = true
	if boolQuery(r, "delete_blueprint") {
		delete(s.blueprints, bp)
		delete(s.entities, bp)
	}
	mid := newID("migration_")
	s.migrations[mid] = map[string]any{
		"id": mid, "status": "COMPLETE", "actor": s.cfg.ClientID, "sourceBlueprint": bp, "mapping": nil,
		"createdAt": formatTime(s.now()),
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "migrationId": mid})
}

func (s *Server) handleGetMigration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.migrations[id]
	if m == nil {
		writeNotFound(w, "migration", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "migration": cloneMap(m)})
}
