// Package sources defines what oceand pulls data from. A source is chosen by
// integration.type and ships its default Port resources (blueprints, mapping,
// spec) embedded in the binary.
package sources

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
)

// Resource is one resource of the mapping as a source sees it.
type Resource struct {
	// Kind is the third-party resource type (resources[i].kind).
	Kind string
	// Index is the resource's position in the mapping.
	Index int
	// Selector holds every selector key; sources may define their own.
	Selector map[string]any
}

// Source fetches raw items from a third-party system.
type Source interface {
	// Fetch streams the raw items of one resource of the mapping, page by
	// page. An error means the kind is incomplete: nothing of it is
	// deleted this resync. emit returning an error stops the fetch; Fetch
	// returns that error.
	Fetch(ctx context.Context, r Resource, emit func(items []map[string]any) error) error
}

// Defaults are the Port resources a source ships.
type Defaults struct {
	// Blueprints is a JSON array of blueprint definitions.
	Blueprints []byte
	// PortAppConfig is the default mapping as YAML.
	PortAppConfig []byte
	// Spec is the source's spec.yaml: its integration.config settings.
	Spec []byte
}

// Env is what the daemon lends a source.
type Env struct {
	// Logger is the source's logger; never nil when the daemon builds it.
	Logger *slog.Logger
	// StateDir is the daemon's state directory: a source may spool
	// per-resync data under it (in a subdirectory of its own).
	StateDir string
	// AddSecrets registers values obtained at run time (tokens) so that
	// every log line, job record and CLI output redacts them. Never nil
	// when the daemon builds the source.
	AddSecrets func(values ...string)
}

// Definition describes a source type.
type Definition struct {
	Type     string
	Defaults Defaults
	// New builds the source from integration.config.
	New func(config map[string]any, env Env) (Source, error)
}

// ResyncScoped is implemented by sources that keep state for one resync
// (an endpoint cache, say). BeginResync is called with every resource of
// the mapping before the first Fetch; EndResync after the last, whatever
// the outcome.
type ResyncScoped interface {
	BeginResync(ctx context.Context, resources []Resource) error
	EndResync() error
}

// Registry maps integration types to source definitions.
type Registry struct {
	defs map[string]Definition
}

// NewRegistry returns a registry holding defs.
func NewRegistry(defs ...Definition) *Registry {
	r := &Registry{defs: map[string]Definition{}}
	for _, d := range defs {
		r.defs[d.Type] = d
	}
	return r
}

// Lookup returns the definition of an integration type.
func (r *Registry) Lookup(typ string) (Definition, error) {
	d, ok := r.defs[typ]
	if !ok {
		return Definition{}, fmt.Errorf("integration.type %q: no such source (available: %v)", typ, r.Types())
	}
	return d, nil
}

// Types lists the registered integration types.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.defs))
	for t := range r.defs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
