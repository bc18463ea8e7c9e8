package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// itemError is a failed entity write: HTTP status, Port error code, message.
type itemError struct {
	status  int
	code    string
	message string
}

func (e *itemError) Error() string { return e.code + ": " + e.message }

type writeOptions struct {
	merge         bool
	createMissing bool
	userAgent     string
}

func optionsOf(r *http.Request) writeOptions {
	return writeOptions{
		merge:         boolQuery(r, "upsert") && boolQuery(r, "merge"),
		createMissing: boolQuery(r, "create_missing_related_entities"),
		userAgent:     r.UserAgent(),
	}
}

// upsertLocked validates raw and writes it to blueprint bp. The caller holds
// s.mu. It returns the stored entity and whether it was created.
func (s *Server) upsertLocked(bp string, raw map[string]any, opts writeOptions, now time.Time) (*entity, bool, *itemError) {
	bpDef := s.blueprints[bp]
	if bpDef == nil {
		return nil, false, &itemError{http.StatusNotFound, "not_found", "blueprint " + bp + " was not found"}
	}
	id, ok := raw["identifier"].(string)
	if !ok {
		return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "identifier must be a string"}
	}
	if !validEntityID(id) {
		return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("identifier %q must match %s and be at most 1000 characters", id, entityIDRE.String())}
	}
	if other, ok := raw["blueprint"].(string); ok && other != bp {
		return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "entity blueprint " + other + " does not match the path blueprint " + bp}
	}
	props, _ := raw["properties"].(map[string]any)
	rels, _ := raw["relations"].(map[string]any)
	if _, has := raw["properties"]; has && props == nil && raw["properties"] != nil {
		return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "properties must be an object"}
	}
	relDefs, _ := bpDef["relations"].(map[string]any)
	var missing []struct{ bp, id string }
	for name, v := range rels {
		def, _ := relDefs[name].(map[string]any)
		if def == nil {
			return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "relation " + name + " is not defined on blueprint " + bp}
		}
		target, _ := def["target"].(string)
		many, _ := def["many"].(bool)
		var targets []string
		switch t := v.(type) {
		case nil:
		case string:
			targets = []string{t}
		case []any:
			if !many {
				return nil, false, &itemError{http.StatusUnprocessableEntity, "relation_many_violation", "relation " + name + " takes one entity, got an array"}
			}
			for _, e := range t {
				sv, ok := e.(string)
				if !ok {
					return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "relation " + name + " must hold identifiers"}
				}
				targets = append(targets, sv)
			}
		default:
			return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", "relation " + name + " must be an identifier, an array or null"}
		}
		for _, tid := range targets {
			if target == bp && tid == id {
				continue
			}
			if s.entities[target][tid] == nil {
				if !opts.createMissing {
					return nil, false, &itemError{http.StatusNotFound, "not_found", fmt.Sprintf("relation %s: entity %s of blueprint %s was not found", name, tid, target)}
				}
				missing = append(missing, struct{ bp, id string }{target, tid})
			}
		}
	}
	for _, m := range missing {
		if !validEntityID(m.id) {
			return nil, false, &itemError{http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("related identifier %q is not valid", m.id)}
		}
		s.storeLocked(m.bp, &entity{Blueprint: m.bp, Identifier: m.id, CreatedAt: now, UpdatedAt: now, Datasources: map[string]bool{opts.userAgent: true}})
	}
	cur := s.entities[bp][id]
	created := cur == nil
	next := &entity{Blueprint: bp, Identifier: id, CreatedAt: now, UpdatedAt: now, Datasources: map[string]bool{}}
	if !created {
		next.CreatedAt = cur.CreatedAt
		for ds := range cur.Datasources {
			next.Datasources[ds] = true
		}
	}
	if opts.merge && !created {
		next.Title, next.Icon, next.Team = cur.Title, cur.Icon, cur.Team
		next.Properties = cloneMap(cur.Properties)
		next.Relations = cloneMap(cur.Relations)
		for k, v := range props {
			next.Properties[k] = v
		}
		for k, v := range rels {
			next.Relations[k] = v
		}
	} else {
		next.Properties = cloneMap(props)
		next.Relations = cloneMap(rels)
	}
	if v, ok := raw["title"]; ok {
		next.Title = v
	}
	if v, ok := raw["icon"]; ok {
		next.Icon = v
	}
	if v, ok := raw["team"]; ok {
		next.Team = v
	}
	next.Datasources[opts.userAgent] = true
	s.storeLocked(bp, next)
	return next, created, nil
}

func (s *Server) storeLocked(bp string, e *entity) {
	if s.entities[bp] == nil {
		s.entities[bp] = map[string]*entity{}
	}
	s.entities[bp][e.Identifier] = e
}

func (s *Server) handleUpsertEntity(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	opts := optionsOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !boolQuery(r, "upsert") {
		if id, _ := body["identifier"].(string); s.entities[bp][id] != nil {
			writeError(w, http.StatusConflict, "identifier_taken", "entity "+id+" already exists")
			return
		}
	}
	e, created, ierr := s.upsertLocked(bp, body, opts, s.now())
	if ierr != nil {
		writeError(w, ierr.status, ierr.code, ierr.message)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"ok": true, "entity": e.view()})
}

func (s *Server) handleBulkUpsert(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	var body map[string]any
	if !decodeBody(w, r, &body) {
		return
	}
	normalize(body)
	items, ok := body["entities"].([]any)
	if !ok || len(body) != 1 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", "body must be exactly {entities: [...]}")
		return
	}
	if len(items) < 1 || len(items) > 20 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("entities must hold 1 to 20 items, got %d", len(items)))
		return
	}
	opts := optionsOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blueprints[bp] == nil {
		writeError(w, http.StatusNotFound, "not_found", "blueprint "+bp+" was not found")
		return
	}
	now := s.now()
	okItems := []map[string]any{}
	errItems := []map[string]any{}
	for i, it := range items {
		raw, _ := it.(map[string]any)
		ident, _ := raw["identifier"].(string)
		if raw == nil {
			errItems = append(errItems, map[string]any{"identifier": "unknown", "index": i, "statusCode": 422, "error": "invalid_request", "message": "entity must be an object"})
			continue
		}
		e, created, ierr := s.upsertLocked(bp, raw, opts, now)
		if ierr != nil {
			if ident == "" {
				ident = "unknown"
			}
			errItems = append(errItems, map[string]any{"identifier": ident, "index": i, "statusCode": ierr.status, "error": ierr.code, "message": ierr.message})
			continue
		}
		okItems = append(okItems, map[string]any{"identifier": e.Identifier, "index": i, "created": created})
	}
	status := http.StatusOK
	if len(errItems) > 0 {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, map[string]any{"ok": len(errItems) == 0, "entities": okItems, "errors": errItems})
}

// dependentsLocked returns entities (of any blueprint) that point at bp/id
// through a required relation.
func (s *Server) dependentsLocked(bp, id string) []*entity {
	var out []*entity
	for obp, def := range s.blueprints {
		rels, _ := def["relations"].(map[string]any)
		for name, rd := range rels {
			d, _ := rd.(map[string]any)
			if d["target"] != bp {
				continue
			}
			if req, _ := d["required"].(bool); !req {
				continue
			}
			for _, e := range s.entities[obp] {
				switch v := e.Relations[name].(type) {
				case string:
					if v == id {
						out = append(out, e)
					}
				case []any:
					for _, t := range v {
						if t == id {
							out = append(out, e)
							break
						}
					}
				}
			}
		}
	}
	return out
}

// deleteLocked removes bp/id; with cascade it removes required dependents
// first, without it a dependent makes the delete fail.
func (s *Server) deleteLocked(bp, id string, cascade bool, deleted *[]string) *itemError {
	if s.entities[bp][id] == nil {
		return nil
	}
	deps := s.dependentsLocked(bp, id)
	if len(deps) > 0 && !cascade {
		return &itemError{http.StatusForbidden, "has_dependents", fmt.Sprintf("entity %s has dependents (%s/%s); use delete_dependents=true", id, deps[0].Blueprint, deps[0].Identifier)}
	}
	delete(s.entities[bp], id)
	*deleted = append(*deleted, id)
	for _, d := range deps {
		var sub []string
		_ = s.deleteLocked(d.Blueprint, d.Identifier, true, &sub)
	}
	return nil
}

func (s *Server) handleDeleteEntity(w http.ResponseWriter, r *http.Request) {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blueprints[bp] == nil || s.entities[bp][id] == nil {
		writeError(w, http.StatusNotFound, "not_found", "entity "+id+" of blueprint "+bp+" was not found")
		return
	}
	var deleted []string
	if ierr := s.deleteLocked(bp, id, boolQuery(r, "delete_dependents"), &deleted); ierr != nil {
		writeError(w, ierr.status, ierr.code, ierr.message)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleBulkDelete(w http.ResponseWriter, r *http.Request) {
	bp := r.PathValue("bp")
	var body struct {
		Entities []string `json:"entities"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.Entities) < 1 || len(body.Entities) > 100 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("entities must hold 1 to 100 identifiers, got %d", len(body.Entities)))
		return
	}
	cascade := boolQuery(r, "delete_dependents")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blueprints[bp] == nil {
		writeError(w, http.StatusNotFound, "not_found", "blueprint "+bp+" was not found")
		return
	}
	if !cascade {
		// All or nothing: one entity with dependents fails the request.
		listed := map[string]bool{}
		for _, id := range body.Entities {
			listed[id] = true
		}
		for _, id := range body.Entities {
			for _, d := range s.dependentsLocked(bp, id) {
				if d.Blueprint == bp && listed[d.Identifier] {
					continue
				}
				writeError(w, http.StatusForbidden, "has_dependents", fmt.Sprintf("entity %s has dependents (%s/%s); use delete_dependents=true", id, d.Blueprint, d.Identifier))
				return
			}
		}
	}
	deleted := []string{}
	for _, id := range body.Entities {
		if s.entities[bp][id] == nil {
			continue
		}
		_ = s.deleteLocked(bp, id, true, &deleted)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "deletedEntities": deleted})
}

// handleDatasourceEntities lists entities some writer of which matches the
// prefix and suffix, last updated before `before`, in a stable order with an
// opaque cursor.
func (s *Server) handleDatasourceEntities(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prefix string  `json:"datasource_prefix"`
		Suffix string  `json:"datasource_suffix"`
		Limit  int     `json:"limit"`
		From   string  `json:"from"`
		Before *string `json:"before"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var before time.Time
	if body.Before != nil && *body.Before != "" {
		t, err := time.Parse(time.RFC3339Nano, *body.Before)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_request", "before must be an ISO-8601 date-time")
			return
		}
		before = t
	}
	if body.Limit <= 0 {
		body.Limit = 5000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0)
	for bp, es := range s.entities {
		for id, e := range es {
			if !before.IsZero() && !e.UpdatedAt.Before(before) {
				continue
			}
			if !ownedBy(e, body.Prefix, body.Suffix) {
				continue
			}
			keys = append(keys, bp+"\x00"+id)
		}
	}
	sort.Strings(keys)
	from := ""
	if body.From != "" {
		b, err := base64.RawURLEncoding.DecodeString(body.From)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_request", "from is not a cursor this route returned")
			return
		}
		from = string(b)
	}
	start := sort.SearchStrings(keys, from)
	if from != "" && start < len(keys) && keys[start] == from {
		start++
	}
	end := min(start+body.Limit, len(keys))
	out := make([]map[string]any, 0, end-start)
	for _, k := range keys[start:end] {
		bp, id, _ := strings.Cut(k, "\x00")
		out = append(out, map[string]any{"identifier": id, "blueprint": bp})
	}
	var next any
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entities": out, "next": next})
}

func ownedBy(e *entity, prefix, suffix string) bool {
	for ds := range e.Datasources {
		if strings.HasPrefix(ds, prefix) && strings.HasSuffix(ds, suffix) {
			return true
		}
	}
	return false
}
