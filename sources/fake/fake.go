// Package fake is a deterministic load generator shaped like Ocean's fake
// integration. Unlike Ocean's, every id and value follows from `seed`, so a
// second resync of the same data is a true no-change resync and benchmarks
// can measure the diff path; `revision` with `changedPercent` changes a known
// share of persons, and `failKind` with `failAfterItems` breaks one kind's
// fetch part way (chaos tests).
package fake

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"oceand/sources"
)

// Type is the integration type of the fake source.
const Type = "fake"

//go:embed resources/blueprints.json
var blueprintsJSON []byte

//go:embed resources/port-app-config.yml
var portAppConfigYAML []byte

//go:embed resources/spec.yaml
var specYAML []byte

// Kinds served by the fake source: the five of Ocean's fake integration.
const (
	KindDepartment = "fake-department"
	KindPerson     = "fake-person"
	KindOffice     = "fake-office"
	KindTeam       = "fake-team"
	KindProject    = "fake-project"
)

// Kinds lists the kinds the fake source serves.
func Kinds() []string {
	return []string{KindDepartment, KindPerson, KindOffice, KindTeam, KindProject}
}

// Definition registers the fake source.
func Definition() sources.Definition {
	return sources.Definition{
		Type: Type,
		Defaults: sources.Defaults{
			Blueprints:    blueprintsJSON,
			PortAppConfig: portAppConfigYAML,
			Spec:          specYAML,
		},
		New: func(config map[string]any, _ sources.Env) (sources.Source, error) {
			s, err := ParseSettings(config)
			if err != nil {
				return nil, err
			}
			return New(s), nil
		},
	}
}

// Settings are the fake source's knobs (integration.config, snake_case keys
// as Ocean's settings loader produces them).
type Settings struct {
	// EntityAmount is persons per department.
	EntityAmount        int
	EntityKBSize        int
	ThirdPartyBatchSize int
	ThirdPartyLatency   time.Duration
	SingleDepartmentRun bool
	Seed                int64
	Revision            int
	ChangedPercent      int
	FailKind            string
	FailAfterItems      int
}

// ParseSettings reads Settings from integration.config, applying Ocean's
// fallbacks (entity amount 400, batch 1000, 1 KiB bios).
func ParseSettings(config map[string]any) (Settings, error) {
	var s Settings
	var err error
	get := func(key string, def int) int {
		if err != nil {
			return def
		}
		var v int
		v, err = intSetting(config, key, def)
		return v
	}
	s.EntityAmount = get("entity_amount", 20)
	s.EntityKBSize = get("entity_kb_size", 1)
	s.ThirdPartyBatchSize = get("third_party_batch_size", 1000)
	latency := get("third_party_latency_ms", 0)
	s.Seed = int64(get("seed", 1))
	s.Revision = get("revision", 0)
	s.ChangedPercent = get("changed_percent", 0)
	s.FailAfterItems = get("fail_after_items", 0)
	if err != nil {
		return s, err
	}
	if s.EntityAmount <= 0 {
		s.EntityAmount = 400
	}
	if s.EntityKBSize < 1 {
		s.EntityKBSize = 1
	}
	if s.ThirdPartyBatchSize < 1 {
		s.ThirdPartyBatchSize = 1000
	}
	if latency > 0 {
		s.ThirdPartyLatency = time.Duration(latency) * time.Millisecond
	}
	if s.ChangedPercent < 0 || s.ChangedPercent > 100 {
		return s, fmt.Errorf("integration.config.changedPercent: must be between 0 and 100, got %d", s.ChangedPercent)
	}
	if v, ok := config["single_department_run"]; ok {
		b, perr := boolValue(v)
		if perr != nil {
			return s, fmt.Errorf("integration.config.singleDepartmentRun: %w", perr)
		}
		s.SingleDepartmentRun = b
	}
	if v, ok := config["fail_kind"]; ok && v != nil {
		s.FailKind = fmt.Sprint(v)
	}
	return s, nil
}

func intSetting(config map[string]any, key string, def int) (int, error) {
	v, ok := config[key]
	if !ok || v == nil {
		return def, nil
	}
	switch t := v.(type) {
	case int:
		return t, nil
	case int64:
		return int(t), nil
	case uint64:
		return int(t), nil
	case float64:
		return int(t), nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil {
			return 0, fmt.Errorf("integration.config.%s: %q is not an integer", key, t)
		}
		return n, nil
	}
	return 0, fmt.Errorf("integration.config.%s: %v is not an integer", key, v)
}

func boolValue(v any) (bool, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		return strconv.ParseBool(strings.TrimSpace(t))
	}
	return false, fmt.Errorf("%v is not a boolean", v)
}

// Source generates the fake organisation.
type Source struct {
	s      Settings
	corpus string
}

// New returns a fake source with settings s.
func New(s Settings) *Source {
	return &Source{s: s, corpus: newCorpus(s.Seed, s.EntityKBSize*1024)}
}

type department struct{ id, name string }

// departments is Ocean's static list of fake departments.
var departments = []department{
	{"hr", "HR"}, {"marketing", "Marketing"}, {"finance", "Finance"}, {"support", "Support"}, {"morpazia", "Morpazia"},
}

func (f *Source) departments() []department {
	if f.s.SingleDepartmentRun {
		return departments[:1]
	}
	return departments
}

// Fetch implements sources.Source.
func (f *Source) Fetch(ctx context.Context, r sources.Resource, emit func([]map[string]any) error) error {
	emitted := 0
	send := func(items []map[string]any) error {
		if f.s.FailKind != "" && r.Kind == f.s.FailKind {
			room := f.s.FailAfterItems - emitted
			if room < len(items) {
				if room > 0 {
					if err := emit(items[:room]); err != nil {
						return err
					}
				}
				return fmt.Errorf("fake: %s fetch failed after %d items (failKind)", r.Kind, f.s.FailAfterItems)
			}
		}
		emitted += len(items)
		return emit(items)
	}
	switch r.Kind {
	case KindDepartment:
		items := make([]map[string]any, 0, len(departments))
		for _, d := range f.departments() {
			items = append(items, map[string]any{"id": d.id, "name": d.name})
		}
		return send(items)
	case KindPerson:
		for di, d := range f.departments() {
			for start := 0; start < f.s.EntityAmount; start += f.s.ThirdPartyBatchSize {
				if err := f.wait(ctx); err != nil {
					return err
				}
				end := min(start+f.s.ThirdPartyBatchSize, f.s.EntityAmount)
				page := make([]map[string]any, 0, end-start)
				for i := start; i < end; i++ {
					page = append(page, f.person(di, d, i))
				}
				if err := send(page); err != nil {
					return err
				}
			}
		}
		return nil
	case KindOffice:
		if err := f.wait(ctx); err != nil {
			return err
		}
		return send(f.offices())
	case KindTeam:
		if err := f.wait(ctx); err != nil {
			return err
		}
		return send(f.teams())
	case KindProject:
		if err := f.wait(ctx); err != nil {
			return err
		}
		return send(f.projects())
	default:
		return fmt.Errorf("fake: unknown kind %q (known: %s)", r.Kind, strings.Join(Kinds(), ", "))
	}
}

func (f *Source) wait(ctx context.Context) error {
	if f.s.ThirdPartyLatency <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(f.s.ThirdPartyLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
