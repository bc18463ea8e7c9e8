package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// handleSearch evaluates a search query over every entity, then keeps the
// fields named by the repeated include / exclude query parameters.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var q map[string]any
	if !decodeBody(w, r, &q) {
		return
	}
	if err := validateQuery(q); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_request", err.Error())
		return
	}
	for k := range q {
		if k != "combinator" && k != "rules" {
			writeError(w, http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("unknown key %q in the query (only combinator and rules)", k))
			return
		}
	}
	include, exclude := r.URL.Query()["include"], r.URL.Query()["exclude"]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := []map[string]any{}
	for _, bp := range sortedKeys(s.entities) {
		for _, id := range sortedKeys(s.entities[bp]) {
			e := s.entities[bp][id]
			if matchQuery(q, e, now) {
				out = append(out, project(e.view(), include, exclude))
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entities": out})
}

// project keeps the include paths of v (all when none) and drops the
// exclude paths. Paths are top-level keys ("identifier", "$title" ...) or
// "properties.<p>" / "relations.<r>".
func project(v map[string]any, include, exclude []string) map[string]any {
	out := v
	if len(include) > 0 {
		out = map[string]any{}
		for _, p := range include {
			top, sub, nested := strings.Cut(strings.TrimPrefix(p, "$"), ".")
			val, ok := v[top]
			if !ok {
				continue
			}
			if !nested {
				out[top] = val
				continue
			}
			src, _ := val.(map[string]any)
			dst, _ := out[top].(map[string]any)
			if dst == nil {
				dst = map[string]any{}
				out[top] = dst
			}
			if x, ok := src[sub]; ok {
				dst[sub] = x
			}
		}
	}
	for _, p := range exclude {
		top, sub, nested := strings.Cut(strings.TrimPrefix(p, "$"), ".")
		if !nested {
			delete(out, top)
			continue
		}
		if m, ok := out[top].(map[string]any); ok {
			m = cloneMap(m)
			delete(m, sub)
			out[top] = m
		}
	}
	return out
}

// operators maps every operator the emulator evaluates to the positive
// operator it negates ("" for positive ones).
var operators = map[string]string{
	"=": "", "!=": "=",
	"in": "", "notIn": "in",
	"contains": "", "doesNotContains": "contains",
	"containsAny": "",
	"beginsWith":  "", "doesNotBeginsWith": "beginsWith",
	"endsWith": "", "doesNotEndsWith": "endsWith",
	"isEmpty": "", "isNotEmpty": "isEmpty",
	">": "", ">=": "", "<": "", "<=": "",
	"between": "", "notBetween": "between",
}

var datePresets = set("today", "tomorrow", "yesterday", "lastDay", "lastWeek", "last2Weeks",
	"lastMonth", "last3Months", "last6Months", "last12Months")

// validateQuery checks a {combinator, rules} query as Port does before
// running it; an error means 422 invalid_request.
func validateQuery(q map[string]any) error {
	comb, _ := q["combinator"].(string)
	if comb != "and" && comb != "or" {
		return errors.New(`combinator must be "and" or "or"`)
	}
	rules, ok := q["rules"].([]any)
	if !ok {
		return errors.New("rules must be an array")
	}
	for i, r := range rules {
		rm, ok := r.(map[string]any)
		if !ok {
			return fmt.Errorf("rule %d must be an object", i)
		}
		if _, nested := rm["combinator"]; nested {
			if err := validateQuery(rm); err != nil {
				return err
			}
			continue
		}
		if err := validateRule(rm); err != nil {
			return fmt.Errorf("rule %d: %w", i, err)
		}
	}
	return nil
}

func validateRule(rm map[string]any) error {
	op, _ := rm["operator"].(string)
	if op == "relatedTo" {
		return errors.New("operator relatedTo is not supported by the emulator")
	}
	if _, known := operators[op]; !known {
		return fmt.Errorf("unknown operator %q", rm["operator"])
	}
	if _, err := ruleProperty(rm); err != nil {
		return err
	}
	value, hasValue := rm["value"]
	switch op {
	case "isEmpty", "isNotEmpty":
		return nil
	case "in", "notIn", "containsAny":
		if _, ok := value.([]any); !ok {
			return fmt.Errorf("operator %s needs an array value", op)
		}
	case "between", "notBetween":
		m, _ := value.(map[string]any)
		if p, ok := m["preset"].(string); ok {
			if !datePresets[p] {
				return fmt.Errorf("unknown date preset %q", p)
			}
			return nil
		}
		if _, err := parseTime(m["from"]); err != nil {
			return fmt.Errorf("operator %s needs {from, to} date-times or a preset: from: %w", op, err)
		}
		if _, err := parseTime(m["to"]); err != nil {
			return fmt.Errorf("operator %s needs {from, to} date-times or a preset: to: %w", op, err)
		}
	default:
		if !hasValue {
			return fmt.Errorf("operator %s needs a value", op)
		}
	}
	return nil
}

// ruleProperty returns the property a rule tests: a string, or the
// property of a {property, context} object.
func ruleProperty(rm map[string]any) (string, error) {
	switch p := rm["property"].(type) {
	case string:
		if p == "" {
			return "", errors.New("property must not be empty")
		}
		return p, nil
	case map[string]any:
		if s, ok := p["property"].(string); ok && s != "" {
			return s, nil
		}
	}
	return "", errors.New("rule has no property")
}

func matchQuery(q map[string]any, e *entity, now time.Time) bool {
	rules, _ := q["rules"].([]any)
	and := q["combinator"] == "and"
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		var ok bool
		if _, nested := rm["combinator"]; nested {
			ok = matchQuery(rm, e, now)
		} else {
			ok = matchRule(rm, e, now)
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

// values returns the values a rule property has on e; $datasource and
// $team have one per element.
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
		if t, ok := e.Team.([]any); ok && len(t) > 0 {
			return t
		}
		return []any{nil}
	case "$createdAt":
		return []any{formatTime(e.CreatedAt)}
	case "$updatedAt":
		return []any{formatTime(e.UpdatedAt)}
	case "$createdBy":
		return []any{e.CreatedBy}
	case "$updatedBy":
		return []any{e.UpdatedBy}
	case "$datasource":
		out := make([]any, 0, len(e.Datasources))
		for _, ds := range sortedKeys(e.Datasources) {
			out = append(out, ds)
		}
		if len(out) == 0 {
			return []any{nil}
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

// matchRule is true when any value of the property satisfies a positive
// operator; a negated operator is true when none satisfies its positive.
func matchRule(rule map[string]any, e *entity, now time.Time) bool {
	prop, _ := ruleProperty(rule)
	op, _ := rule["operator"].(string)
	positive, negated := op, false
	if p := operators[op]; p != "" {
		positive, negated = p, true
	}
	want := rule["value"]
	for _, got := range values(prop, e) {
		if matchOp(positive, got, want, now) {
			return !negated
		}
	}
	return negated
}

func matchOp(op string, got, want any, now time.Time) bool {
	gs, gIsStr := got.(string)
	ws, wIsStr := want.(string)
	switch op {
	case "=":
		return equalValues(got, want)
	case "in":
		list, _ := want.([]any)
		return inList(got, list)
	case "contains":
		if gIsStr && wIsStr {
			return strings.Contains(gs, ws)
		}
		if arr, ok := got.([]any); ok {
			return inList(want, arr)
		}
		return false
	case "containsAny":
		list, _ := want.([]any)
		for _, w := range list {
			if matchOp("contains", got, w, now) {
				return true
			}
		}
		return false
	case "beginsWith":
		return gIsStr && wIsStr && strings.HasPrefix(gs, ws)
	case "endsWith":
		return gIsStr && wIsStr && strings.HasSuffix(gs, ws)
	case "isEmpty":
		return isEmpty(got)
	case ">", ">=", "<", "<=":
		c, ok := compareValues(got, want)
		if !ok {
			return false
		}
		switch op {
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "<":
			return c < 0
		}
		return c <= 0
	case "between":
		t, err := parseTime(got)
		if err != nil {
			return false
		}
		from, to := dateRange(want, now)
		return !t.Before(from) && !t.After(to)
	}
	return false
}

// dateRange reads a between value: {from, to} or {preset}.
func dateRange(v any, now time.Time) (time.Time, time.Time) {
	m, _ := v.(map[string]any)
	if p, ok := m["preset"].(string); ok {
		day := now.UTC().Truncate(24 * time.Hour)
		switch p {
		case "today":
			return day, day.Add(24*time.Hour - time.Nanosecond)
		case "tomorrow":
			return day.Add(24 * time.Hour), day.Add(48*time.Hour - time.Nanosecond)
		case "yesterday":
			return day.Add(-24 * time.Hour), day.Add(-time.Nanosecond)
		case "lastDay":
			return now.Add(-24 * time.Hour), now
		case "lastWeek":
			return now.AddDate(0, 0, -7), now
		case "last2Weeks":
			return now.AddDate(0, 0, -14), now
		case "lastMonth":
			return now.AddDate(0, -1, 0), now
		case "last3Months":
			return now.AddDate(0, -3, 0), now
		case "last6Months":
			return now.AddDate(0, -6, 0), now
		case "last12Months":
			return now.AddDate(-1, 0, 0), now
		}
	}
	from, _ := parseTime(m["from"])
	to, _ := parseTime(m["to"])
	return from, to
}

func parseTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not an ISO-8601 date-time", describe(v))
	}
	return time.Parse(time.RFC3339Nano, s)
}

// compareValues orders two numbers, or two date-times.
func compareValues(a, b any) (int, bool) {
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	ta, err := parseTime(a)
	if err != nil {
		return 0, false
	}
	tb, err := parseTime(b)
	if err != nil {
		return 0, false
	}
	return ta.Compare(tb), true
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

// equalValues compares JSON values by type and value: "1" is not 1.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	}
	return false
}
