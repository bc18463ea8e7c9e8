package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// handleSearch evaluates a search query over every entity.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var q map[string]any
	if !decodeBody(w, r, &q) {
		return
	}
	normalize(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := validateQuery(q); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", err.Error())
		return
	}
	out := []map[string]any{}
	for _, bp := range sortedKeys(s.entities) {
		for _, id := range sortedKeys(s.entities[bp]) {
			e := s.entities[bp][id]
			if matchQuery(q, e) {
				out = append(out, e.view())
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entities": out})
}

func validateQuery(q map[string]any) error {
	comb, _ := q["combinator"].(string)
	if comb != "and" && comb != "or" {
		return fmt.Errorf("combinator must be \"and\" or \"or\"")
	}
	rules, ok := q["rules"].([]any)
	if !ok {
		return fmt.Errorf("rules must be an array")
	}
	for _, r := range rules {
		rm, ok := r.(map[string]any)
		if !ok {
			return fmt.Errorf("each rule must be an object")
		}
		if _, nested := rm["combinator"]; nested {
			if err := validateQuery(rm); err != nil {
				return err
			}
			continue
		}
		if _, ok := rm["operator"].(string); !ok {
			return fmt.Errorf("rule has no operator")
		}
	}
	return nil
}

func matchQuery(q map[string]any, e *entity) bool {
	rules, _ := q["rules"].([]any)
	and := q["combinator"] == "and"
	if len(rules) == 0 {
		return and
	}
	for _, r := range rules {
		rm := r.(map[string]any)
		var ok bool
		if _, nested := rm["combinator"]; nested {
			ok = matchQuery(rm, e)
		} else {
			ok = matchRule(rm, e)
		}
		if and && !ok {
			return false
		}
		if !and && ok {
			return true
		}
	}
	return and
}

// values returns the values a rule property has on e; $datasource has one
// per writer.
func values(prop string, e *entity) []any {
	switch prop {
	case "$identifier":
		return []any{e.Identifier}
	case "$blueprint":
		return []any{e.Blueprint}
	case "$title":
		return []any{e.Title}
	case "$icon":
		return []any{e.Icon}
	case "$team":
		return []any{e.Team}
	case "$createdAt":
		return []any{e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")}
	case "$updatedAt":
		return []any{e.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z")}
	case "$datasource":
		out := make([]any, 0, len(e.Datasources))
		for ds := range e.Datasources {
			out = append(out, ds)
		}
		return out
	}
	if v, ok := e.Properties[prop]; ok {
		return []any{v}
	}
	if v, ok := e.Relations[prop]; ok {
		return []any{v}
	}
	return []any{nil}
}

func matchRule(rule map[string]any, e *entity) bool {
	prop, _ := rule["property"].(string)
	op, _ := rule["operator"].(string)
	want := rule["value"]
	for _, got := range values(prop, e) {
		if matchOp(op, got, want) {
			return true
		}
	}
	return false
}

func matchOp(op string, got, want any) bool {
	gs, gIsStr := got.(string)
	ws, wIsStr := want.(string)
	switch op {
	case "=":
		return equalJSON(got, want)
	case "!=":
		return !equalJSON(got, want)
	case "in", "notIn":
		list, _ := want.([]any)
		found := false
		for _, w := range list {
			if equalJSON(got, w) {
				found = true
				break
			}
		}
		return found == (op == "in")
	case "contains":
		if gIsStr && wIsStr {
			return strings.Contains(gs, ws)
		}
		if arr, ok := got.([]any); ok {
			for _, a := range arr {
				if equalJSON(a, want) {
					return true
				}
			}
		}
		return false
	case "doesNotContains":
		return !matchOp("contains", got, want)
	case "containsAny":
		list, _ := want.([]any)
		for _, w := range list {
			if matchOp("contains", got, w) {
				return true
			}
		}
		return false
	case "beginsWith":
		return gIsStr && wIsStr && strings.HasPrefix(gs, ws)
	case "doesNotBeginsWith":
		return !(gIsStr && wIsStr && strings.HasPrefix(gs, ws))
	case "endsWith":
		return gIsStr && wIsStr && strings.HasSuffix(gs, ws)
	case "doesNotEndsWith":
		return !(gIsStr && wIsStr && strings.HasSuffix(gs, ws))
	case "isEmpty":
		return isEmpty(got)
	case "isNotEmpty":
		return !isEmpty(got)
	}
	return false
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

func equalJSON(a, b any) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}
