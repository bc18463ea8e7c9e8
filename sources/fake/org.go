package fake

import (
	"fmt"
	"strings"
)

// office is a static office; its address is nested to exercise nested jq
// paths and array indexing in mappings.
type office struct {
	id, name, city, country string
	lines                   []string
	lat, lng                float64
}

var offices = []office{
	{"office-lisbon", "Lisbon", "Lisbon", "Portugal", []string{"Avenida da Liberdade 90", "Floor 3"}, 38.7223, -9.1393},
	{"office-oslo", "Oslo", "Oslo", "Norway", []string{"Karl Johans gate 7"}, 59.9139, 10.7522},
	{"office-austin", "Austin", "Austin", "USA", []string{"Congress Ave 300", "Suite 12"}, 30.2672, -97.7431},
	{"office-seoul", "Seoul", "Seoul", "South Korea", []string{"Teheran-ro 152"}, 37.5665, 126.9780},
	{"office-nairobi", "Nairobi", "Nairobi", "Kenya", []string{"Kenyatta Avenue 4", "Block C"}, -1.2921, 36.8219},
	{"office-lima", "Lima", "Lima", "Peru", []string{"Avenida Larco 1150"}, -12.0464, -77.0428},
	{"office-krakow", "Krakow", "Krakow", "Poland", []string{"Rynek Glowny 20", "Floor 2"}, 50.0647, 19.9450},
	{"office-auckland", "Auckland", "Auckland", "New Zealand", []string{"Queen Street 55"}, -36.8485, 174.7633},
}

func (f *Source) offices() []map[string]any {
	out := make([]map[string]any, 0, len(offices))
	for _, o := range offices {
		lines := make([]any, len(o.lines))
		for i, l := range o.lines {
			lines[i] = l
		}
		out = append(out, map[string]any{
			"id":   o.id,
			"name": o.name,
			"address": map[string]any{
				"city":    o.city,
				"country": o.country,
				"lines":   lines,
				"geo":     map[string]any{"lat": o.lat, "lng": o.lng},
			},
		})
	}
	return out
}

// team is a static team of a department (by index in departments).
type team struct {
	id, name   string
	department int
	lead       string
}

var teams = []team{
	{"team-people-ops", "People Ops", 0, "Noor Haddad"},
	{"team-recruiting", "Recruiting", 0, "Ilya Petrov"},
	{"team-campaigns", "Campaigns", 1, "Mara Quint"},
	{"team-content", "Content", 1, "Theo Brandt"},
	{"team-accounting", "Accounting", 2, "Priya Nair"},
	{"team-procurement", "Procurement", 2, "Owen Mills"},
	{"team-helpdesk", "Helpdesk", 3, "Lena Ortiz"},
	{"team-escalations", "Escalations", 3, "Kofi Mensah"},
	{"team-lab", "Lab", 4, "Yuki Sato"},
	{"team-prototypes", "Prototypes", 4, "Ravi Iyer"},
	{"team-workplace", "Workplace", 0, "Ana Lima"},
	{"team-analytics", "Analytics", 4, "Sven Berg"},
}

// teams returns the teams of the departments this run serves, so every
// team's department exists.
func (f *Source) teams() []map[string]any {
	depts := f.departments()
	var out []map[string]any
	for _, t := range teams {
		if t.department >= len(depts) {
			continue
		}
		d := depts[t.department]
		email := strings.ToLower(strings.ReplaceAll(t.lead, " ", ".")) + "@example.com"
		out = append(out, map[string]any{
			"id":         t.id,
			"name":       t.name,
			"department": map[string]any{"id": d.id, "name": d.name},
			"lead":       map[string]any{"name": t.lead, "email": email},
		})
	}
	return out
}

// projectCount is the number of projects, as in Ocean's fake integration.
const projectCount = 40

var (
	projectAdjectives = []string{"Adaptive", "Balanced", "Cohesive", "Distributed", "Elastic", "Focused", "Grounded", "Holistic"}
	projectNouns      = []string{"pipeline", "catalog", "gateway", "ledger", "portal", "scheduler", "registry", "workbench"}
	projectTiers      = []string{"gold", "silver", "bronze", "platinum"}
)

// projects returns the projects. Each is owned by a person of one of the
// departments this run serves; even-numbered projects carry a tier.
func (f *Source) projects() []map[string]any {
	depts := f.departments()
	out := make([]map[string]any, 0, projectCount)
	for p := 1; p <= projectCount; p++ {
		r := seedFor(uint64(f.s.Seed), 0x9A0C, uint64(p))
		di := (p - 1) % len(depts)
		owner := f.person(di, depts[di], ((p-1)/len(depts))%f.s.EntityAmount)
		item := map[string]any{
			"id":   fmt.Sprintf("project-%03d", p),
			"name": projectAdjectives[r.intn(len(projectAdjectives))] + " " + projectNouns[r.intn(len(projectNouns))],
			"owner": map[string]any{
				"id":         owner["id"],
				"name":       owner["name"],
				"department": owner["department"],
			},
		}
		if p%2 == 0 {
			item["metadata"] = map[string]any{"tier": map[string]any{"level": projectTiers[r.intn(len(projectTiers))]}}
		}
		out = append(out, item)
	}
	return out
}
