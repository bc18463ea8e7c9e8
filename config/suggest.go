package config

import (
	"strings"
)

// suggest finds the setting a mistyped key probably meant: a sibling a
// few edits away, else a setting of that name elsewhere (clientId at the
// top level means port.clientId). It is spelled as the source spells it.
func (l *loader) suggest(parent *field, path string, o Origin) string {
	best := l.suggestField(parent, path)
	switch {
	case best == nil:
		return ""
	case inVarName(o, path):
		return envName(best.path)
	}
	return l.display(best.path)
}

// suggestField is the setting suggest names, or nil.
func (l *loader) suggestField(parent *field, path string) *field {
	key := path[strings.LastIndex(path, ".")+1:]
	siblings := make([]string, len(parent.children))
	for i, c := range parent.children {
		siblings[i] = c.key
	}
	var best *field
	if k := closest(key, siblings); k != "" {
		best = parent.byKey[k]
	} else {
		l.schema.walk(func(f *field) {
			if best == nil && normKey(f.key) == normKey(key) {
				best = f
			}
		})
	}
	return best
}

// oneEditAway reports whether an unknown key set by the name of a variable
// is one edit from a known one (OCEAN__EVENT_LISTNER__TYPE): surely a
// typo, and a costly one, since its setting silently keeps its default (a
// ONCE job run as POLLING forever). Such a variable is an error; others
// stay warnings, as the environment may hold variables of other versions.
func oneEditAway(o Origin, path, known string) bool {
	key := path[strings.LastIndex(path, ".")+1:]
	return inVarName(o, path) && editDistance(strings.ToLower(key), strings.ToLower(known)) <= 1
}

// suggestSpec finds the spec field an unknown integration.config key
// probably meant.
func (m *meta) suggestSpec(path string) string {
	keys := make([]string, len(m.spec.fields))
	for i, f := range m.spec.fields {
		keys[i] = f.key
	}
	k := closest(path[strings.LastIndex(path, ".")+1:], keys)
	switch {
	case k == "":
		return ""
	case inVarName(m.origins[path], path):
		return envName("integration.config." + k)
	}
	return "integration.config." + m.spec.byKey[k].Name
}

// specTypo reports whether the unknown integration.config key at path was
// set by a variable name one edit from a field of the spec.
func (m *meta) specTypo(path string) bool {
	keys := make([]string, len(m.spec.fields))
	for i, f := range m.spec.fields {
		keys[i] = f.key
	}
	k := closest(path[strings.LastIndex(path, ".")+1:], keys)
	return k != "" && oneEditAway(m.origins[path], path, k)
}

// closest returns the candidate nearest to key within a few edits, case
// and underscores aside, or "".
func closest(key string, candidates []string) string {
	k := normKey(key)
	best, bestD := "", max(1, len(k)/3)+1
	for _, c := range candidates {
		if d := editDistance(k, normKey(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func normKey(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "") }

// inVarName reports whether the key at path is part of the name of the
// variable that set it (OCEAN__PORT__CLIENTID), not of a JSON value in it.
func inVarName(o Origin, path string) bool {
	if o.Kind != FromEnv && o.Kind != FromDotEnv {
		return false
	}
	p, ok := settingPath(o.Var)
	return ok && strings.HasPrefix(strings.Join(p, ".")+".", path+".")
}

// editDistance is the number of edits between a and b: letters inserted,
// deleted, replaced, or two adjacent letters swapped (TPYE for TYPE is one
// typo, not two). It keeps three rows, so a hostile key of a megabyte
// costs a few megabytes, not a matrix.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// prev2, prev and cur are the distances from ra[:i-2], ra[:i-1] and
	// ra[:i] to each rb[:j].
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
