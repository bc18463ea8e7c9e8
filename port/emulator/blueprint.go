package emulator

import (
	"net/http"
	"regexp"
	"sort"
	"time"
	"unicode/utf8"
)

var (
	blueprintIDRE = regexp.MustCompile(`^[\p{L}0-9@_.+:\\/-]+$`)
	entityIDRE    = regexp.MustCompile(`^[\p{L}0-9@_.+:\\/=-]+$`)
	propertyIDRE  = regexp.MustCompile(`^[A-Za-z0-9@_=\\-]+$`)
)

func validBlueprintID(id string) bool {
	return id != "." && id != ".." && utf8.RuneCountInString(id) <= 100 && blueprintIDRE.MatchString(id)
}

func validEntityID(id string) bool {
	return id != "." && id != ".." && utf8.RuneCountInString(id) <= 1000 && entityIDRE.MatchString(id)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateBlueprint checks a full blueprint definition; it returns Port's
// error code and message, or "" when the blueprint is valid.
func (s *Server) validateBlueprint(bp map[string]any) (string, string) {
	id, _ := bp["identifier"].(string)
	if !validBlueprintID(id) {
		return "invalid_request", "blueprint identifier must match " + blueprintIDRE.String() + " and be at most 100 characters"
	}
	title, _ := bp["title"].(string)
	if title == "" || utf8.RuneCountInString(title) > 100 {
		return "invalid_request", "blueprint title is required and at most 100 characters"
	}
	schema, _ := bp["schema"].(map[string]any)
	if schema == nil {
		return "invalid_request", "blueprint schema is required"
	}
	props, _ := schema["properties"].(map[string]any)
	for pid, def := range props {
		if !propertyIDRE.MatchString(pid) || len(pid) > 100 {
			return "invalid_request", "property identifier " + pid + " must match " + propertyIDRE.String()
		}
		d, _ := def.(map[string]any)
		switch d["type"] {
		case "string", "number", "boolean", "object", "array":
		default:
			return "invalid_request", "property " + pid + " has no valid type"
		}
	}
	rels, _ := bp["relations"].(map[string]any)
	for rid, def := range rels {
		if !propertyIDRE.MatchString(rid) || len(rid) > 100 {
			return "invalid_request", "relation identifier " + rid + " must match " + propertyIDRE.String()
		}
		d, _ := def.(map[string]any)
		target, _ := d["target"].(string)
		if target != id && s.blueprints[target] == nil {
			return "not_found", "relation " + rid + " targets blueprint " + target + ", which does not exist"
		}
		many, _ := d["many"].(bool)
		required, _ := d["required"].(bool)
		if many && required {
			return "invalid_request", "relation " + rid + " cannot be both many and required"
		}
	}
	return "", ""
}

func (s *Server) blueprintView(id string) map[string]any {
	bp := s.blueprints[id]
	out := make(map[string]any, len(bp)+2)
	for k, v := range bp {
		out[k] = v
	}
	if _, ok := out["relations"]; !ok {
		out["relations"] = map[string]any{}
	}
	if _, ok := out["schema"]; !ok {
		out["schema"] = map[string]any{"properties": map[string]any{}}
	}
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
	normalize(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, msg := s.validateBlueprint(body); code != "" {
		status := http.StatusUnprocessableEntity
		if code == "not_found" {
			status = http.StatusNotFound
		}
		writeError(w, status, code, msg)
		return
	}
	id := body["identifier"].(string)
	if s.blueprints[id] != nil {
		writeError(w, http.StatusConflict, "identifier_taken", "blueprint "+id+" already exists")
		return
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blueprints[id] == nil {
		writeError(w, http.StatusNotFound, "not_found", "blueprint "+id+" was not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "blueprint": s.blueprintView(id)})
}

func (s *Server) handlePatchBlueprint(w http.ResponseWriter, r *http.Request) {
	s.updateBlueprint(w, r, true)
}

func (s *Server) handlePutBlueprint(w http.ResponseWriter, r *http.Request) {
	s.updateBlueprint(w, r, false)
}

// updateBlueprint merges (PATCH) or replaces (PUT) a blueprint. A PATCH
// merges top-level keys and, inside schema, the properties and required list.
func (s *Server) updateBlueprint(w http.ResponseWriter, r *http.Request, merge bool) {
	id := r.PathValue("bp")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.blueprints[id]
	if cur == nil {
		writeError(w, http.StatusNotFound, "not_found", "blueprint "+id+" was not found")
		return
	}
	next := map[string]any{}
	if merge {
		for k, v := range cur {
			next[k] = v
		}
	}
	for k, v := range body {
		if k == "schema" && merge {
			next[k] = mergeSchema(cur["schema"], v)
			continue
		}
		next[k] = v
	}
	next["identifier"] = id
	if code, msg := s.validateBlueprint(next); code != "" {
		status := http.StatusUnprocessableEntity
		if code == "not_found" {
			status = http.StatusNotFound
		}
		writeError(w, status, code, msg)
		return
	}
	next["createdAt"], next["createdBy"] = cur["createdAt"], cur["createdBy"]
	next["updatedAt"] = s.now().UTC().Format(time.RFC3339Nano)
	s.blueprints[id] = next
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "blueprint": s.blueprintView(id)})
}

func mergeSchema(cur, patch any) any {
	c, _ := cur.(map[string]any)
	p, _ := patch.(map[string]any)
	if c == nil {
		return patch
	}
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range p {
		if k == "properties" {
			props := map[string]any{}
			if cp, ok := c["properties"].(map[string]any); ok {
				for pk, pv := range cp {
					props[pk] = pv
				}
			}
			if pp, ok := v.(map[string]any); ok {
				for pk, pv := range pp {
					props[pk] = pv
				}
			}
			out[k] = props
			continue
		}
		out[k] = v
	}
	return out
}

func (s *Server) handleDeleteBlueprint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("bp")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blueprints[id] == nil {
		writeError(w, http.StatusNotFound, "not_found", "blueprint "+id+" was not found")
		return
	}
	if len(s.entities[id]) > 0 {
		writeError(w, http.StatusConflict, "has_entities", "blueprint "+id+" still has entities")
		return
	}
	delete(s.blueprints, id)
	delete(s.entities, id)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
