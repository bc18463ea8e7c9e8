package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/mapping"
	"oceand/port"
)

// Resource origins (Ocean's createPortResourcesOrigin): who installs the
// default blueprints and mapping.
const (
	originDefault = "Default" // the integration, from its own defaults
	originEmpty   = "Empty"   // nobody: an empty mapping
	originPort    = "Port"    // Port provisions them
)

// register makes sure Port knows the integration, as Ocean does at start-up
// (reference/ocean-behavior.md §2.2-2.4): create it when missing, patch only
// the fields that drifted, and install the source's default blueprints and
// mapping once.
func (d *Daemon) register(ctx context.Context) error {
	defaults, err := d.defaultMapping()
	if err != nil {
		return err
	}
	integ, err := d.port.GetIntegration(ctx)
	switch {
	case errors.Is(err, port.ErrNotFound):
		d.logger.Info("creating the integration in Port", "identifier", d.settings.Integration.Identifier)
		integ, err = d.port.CreateIntegration(ctx, map[string]any{
			"installationAppType":       d.settings.Integration.Type,
			"version":                   buildinfo.Version,
			"changelogDestination":      d.changelogDestination(),
			"config":                    defaults,
			"actionsProcessingEnabled":  false,
			"incrementalSyncEnabled":    false,
			"createPortResourcesOrigin": originDefault,
		})
		if err != nil {
			return fmt.Errorf("create the integration: %w", err)
		}
		if integ == nil {
			return errors.New("create the integration: Port answered without the integration")
		}
	case err != nil:
		return fmt.Errorf("read the integration: %w", err)
	}
	if t := integ.InstallationType; t != "" && t != "OnPrem" {
		return fmt.Errorf("integration %s is installed as %q in Port; oceand runs on premises (OnPrem) and cannot take it over", d.settings.Integration.Identifier, t)
	}
	if patch := d.drift(integ); len(patch) > 0 {
		d.logger.Info("updating the integration in Port", "fields", keys(patch))
		if integ, err = d.port.PatchIntegration(ctx, patch); err != nil {
			return fmt.Errorf("update the integration: %w", err)
		}
	}
	d.logIngestURL = integ.LogIngestURL()
	if !d.settings.InitializePortResources || integ.ArePortResourcesInitialized {
		return nil
	}
	return d.initializeResources(ctx, integ, defaults)
}

// initializeResources installs the defaults according to the integration's
// origin and marks them initialized, so it happens once.
func (d *Daemon) initializeResources(ctx context.Context, integ *port.Integration, defaults *mapping.Config) error {
	switch integ.CreatePortResourcesOrigin {
	case originPort:
		// Port provisions blueprints and mapping itself; oceand does not
		// ask for them (it never creates integrations with this origin).
		d.logger.Info("Port provisions this integration's default resources; not installing the source's")
		return nil
	case originEmpty:
		empty := mapping.DefaultConfig()
		_, err := d.port.PatchIntegration(ctx, map[string]any{"config": empty, "arePortResourcesInitialized": true, "version": buildinfo.Version})
		if err != nil {
			return fmt.Errorf("install the empty mapping: %w", err)
		}
		return nil
	}
	if !integ.HasConfig() {
		// The start-up resync syncs the new mapping: Port must not queue
		// a second one for this change.
		if _, err := d.port.PatchIntegrationConfig(ctx, defaults, true); err != nil {
			return fmt.Errorf("install the default mapping: %w", err)
		}
	}
	if err := d.createBlueprints(ctx); err != nil {
		return err
	}
	if _, err := d.port.PatchIntegration(ctx, map[string]any{"arePortResourcesInitialized": true, "version": buildinfo.Version}); err != nil {
		return fmt.Errorf("mark default resources initialized: %w", err)
	}
	return nil
}

// defaultMapping is the source's port-app-config as Port stores it.
func (d *Daemon) defaultMapping() (*mapping.Config, error) { return defaultMapping(d.source) }

func (d *Daemon) changelogDestination() map[string]any {
	switch d.settings.EventListener.Type {
	case config.ListenerKafka:
		return map[string]any{"type": "KAFKA"}
	case config.ListenerWebhook:
		u := strings.TrimRight(d.settings.EventListener.AppHost, "/") + "/resync"
		if sec := d.settings.EventListener.WebhookSecret; sec != "" {
			u += "?secret=" + url.QueryEscape(sec)
		}
		return map[string]any{"type": "WEBHOOK", "url": u}
	}
	return map[string]any{}
}

// drift returns the PATCH that brings Port's record in line with this
// daemon, or nil when nothing differs. Only drifted fields are sent, plus
// version, which Ocean always sends.
func (d *Daemon) drift(integ *port.Integration) map[string]any {
	patch := map[string]any{}
	if integ.InstallationAppType != d.settings.Integration.Type {
		patch["installationAppType"] = d.settings.Integration.Type
	}
	if integ.Version != buildinfo.Version {
		patch["version"] = buildinfo.Version
	}
	want := d.changelogDestination()
	got := integ.ChangelogDestination
	if got == nil {
		got = map[string]any{}
	}
	if !reflect.DeepEqual(want, got) {
		patch["changelogDestination"] = want
	}
	// oceand processes neither actions nor incremental syncs.
	if integ.ActionsProcessingEnabled {
		patch["actionsProcessingEnabled"] = false
	}
	if integ.IncrementalSyncEnabled {
		patch["incrementalSyncEnabled"] = false
	}
	if len(patch) == 0 {
		return nil
	}
	patch["version"] = buildinfo.Version
	return patch
}

// Blueprint keys created in later stages: relations and ownership may point
// at blueprints not created yet; calculated, mirror and aggregation
// properties may read relations.
var (
	relationKeys    = []string{"relations", "teamInheritance", "ownership"}
	calculationKeys = []string{"calculationProperties", "mirrorProperties", "aggregationProperties"}
)

// createBlueprints installs the source's blueprints, all or nothing: none is
// created if any of them exists already, and a failure deletes the ones this
// call created. Creation has three stages, as Ocean's: bare blueprints, then
// relations (and team inheritance, ownership), then calculated, mirror and
// aggregation properties, so blueprints may refer to each other in any
// order.
//
// Unlike Ocean, a failed installation does not mark the resources
// initialized: the next start tries again.
func (d *Daemon) createBlueprints(ctx context.Context) error {
	if len(d.source.Defaults.Blueprints) == 0 {
		return nil
	}
	var bps []port.Blueprint
	if err := json.Unmarshal(d.source.Defaults.Blueprints, &bps); err != nil {
		return fmt.Errorf("default blueprints of source %s: %w", d.source.Type, err)
	}
	for _, bp := range bps {
		_, err := d.port.GetBlueprint(ctx, bp.Identifier())
		if err == nil {
			d.logger.Info("a default blueprint exists already; creating none of them", "blueprint", bp.Identifier())
			return nil
		}
		if !errors.Is(err, port.ErrNotFound) {
			return fmt.Errorf("read blueprint %s: %w", bp.Identifier(), err)
		}
	}
	var created []string
	rollback := func(cause error) error {
		for i := len(created) - 1; i >= 0; i-- {
			if err := d.port.DeleteBlueprint(context.WithoutCancel(ctx), created[i]); err != nil {
				cause = errors.Join(cause, fmt.Errorf("roll back blueprint %s: %w", created[i], err))
			}
		}
		return fmt.Errorf("install default blueprints (rolled back): %w", cause)
	}
	for _, bp := range bps {
		if _, err := d.port.CreateBlueprint(ctx, without(bp, relationKeys, calculationKeys)); err != nil {
			return rollback(fmt.Errorf("create blueprint %s: %w", bp.Identifier(), err))
		}
		created = append(created, bp.Identifier())
	}
	for _, stage := range []struct {
		needs []string
		drop  [][]string
	}{
		{needs: relationKeys, drop: [][]string{calculationKeys}},
		{needs: calculationKeys},
	} {
		for _, bp := range bps {
			if !hasAny(bp, stage.needs) {
				continue
			}
			if _, err := d.port.PatchBlueprint(ctx, bp.Identifier(), without(bp, stage.drop...)); err != nil {
				return rollback(fmt.Errorf("complete blueprint %s: %w", bp.Identifier(), err))
			}
		}
	}
	d.logger.Info("created default blueprints", "blueprints", created)
	return nil
}

// without returns bp minus the given keys.
func without(bp port.Blueprint, keySets ...[]string) port.Blueprint {
	out := port.Blueprint{}
	for k, v := range bp {
		out[k] = v
	}
	for _, ks := range keySets {
		for _, k := range ks {
			delete(out, k)
		}
	}
	return out
}

func hasAny(bp port.Blueprint, keys []string) bool {
	for _, k := range keys {
		if _, ok := bp[k]; ok {
			return true
		}
	}
	return false
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
