package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/mapping"
	"oceand/port"
)

// register makes sure Port knows the integration, as Ocean does at start-up:
// create it when missing, patch the fields that drifted, and install the
// source's default blueprints and mapping once.
func (d *Daemon) register(ctx context.Context) error {
	defaultMapping, err := d.defaultMapping()
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
			"config":                    defaultMapping,
			"actionsProcessingEnabled":  false,
			"incrementalSyncEnabled":    false,
			"createPortResourcesOrigin": "Default",
		})
		if err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if patch := d.drift(integ); len(patch) > 0 {
		d.logger.Info("updating the integration in Port", "fields", keys(patch))
		if integ, err = d.port.PatchIntegration(ctx, patch); err != nil {
			return err
		}
	}
	if !d.settings.InitializePortResources || integ.ArePortResourcesInitialized {
		return nil
	}
	if !integ.HasConfig() {
		if _, err := d.port.PatchIntegrationConfig(ctx, defaultMapping, false); err != nil {
			return err
		}
	}
	if err := d.createBlueprints(ctx); err != nil {
		return err
	}
	_, err = d.port.PatchIntegration(ctx, map[string]any{"arePortResourcesInitialized": true, "version": buildinfo.Version})
	return err
}

// defaultMapping is the source's port-app-config as Port stores it.
func (d *Daemon) defaultMapping() (*mapping.Config, error) {
	if len(d.source.Defaults.PortAppConfig) == 0 {
		c := mapping.DefaultConfig()
		return &c, nil
	}
	c, err := mapping.ParseYAML(d.source.Defaults.PortAppConfig)
	if err != nil {
		return nil, fmt.Errorf("default mapping of source %s: %w", d.source.Type, err)
	}
	return c, nil
}

func (d *Daemon) changelogDestination() map[string]any {
	switch d.settings.EventListener.Type {
	case config.ListenerKafka:
		return map[string]any{"type": "KAFKA"}
	case config.ListenerWebhook:
		return map[string]any{"type": "WEBHOOK", "url": strings.TrimRight(d.settings.EventListener.AppHost, "/") + "/resync"}
	}
	return map[string]any{}
}

// drift returns the PATCH that brings Port's record in line with this
// daemon, or nil when nothing differs. version is always sent with it.
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
	if len(patch) == 0 {
		return nil
	}
	patch["version"] = buildinfo.Version
	return patch
}

// createBlueprints installs the source's blueprints unless any of them
// exists already. Blueprints are created bare first and get their relations
// in a second pass, so blueprints that relate to each other can be created
// in any order. A failure deletes what this call created.
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
			d.logger.Info("default blueprints exist already; not creating any", "blueprint", bp.Identifier())
			return nil
		}
		if !errors.Is(err, port.ErrNotFound) {
			return err
		}
	}
	var created []string
	rollback := func(cause error) error {
		for _, id := range created {
			if err := d.port.DeleteBlueprint(context.WithoutCancel(ctx), id); err != nil {
				cause = errors.Join(cause, fmt.Errorf("roll back blueprint %s: %w", id, err))
			}
		}
		return cause
	}
	for _, bp := range bps {
		bare := port.Blueprint{}
		for k, v := range bp {
			switch k {
			case "relations", "calculationProperties", "mirrorProperties", "aggregationProperties", "teamInheritance", "ownership":
				continue
			}
			bare[k] = v
		}
		if _, err := d.port.CreateBlueprint(ctx, bare); err != nil {
			return rollback(fmt.Errorf("create blueprint %s: %w", bp.Identifier(), err))
		}
		created = append(created, bp.Identifier())
	}
	for _, bp := range bps {
		if _, err := d.port.PatchBlueprint(ctx, bp.Identifier(), bp); err != nil {
			return rollback(fmt.Errorf("complete blueprint %s: %w", bp.Identifier(), err))
		}
	}
	d.logger.Info("created default blueprints", "blueprints", created)
	return nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
