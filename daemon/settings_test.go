package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"oceand/config"
	"oceand/daemon"
	"oceand/logging"
)

func TestSourceGetsItsSpecCheckedConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Strings as they come from the environment, and a key the fake
	// source's spec does not declare.
	s := b.settings(t, map[string]any{"entity_amount": "30", "single_department_run": "yes", "entity_amuont": 5})
	s.ClientTimeout = 5 // not set by a source: not reported as ignored

	var logs bytes.Buffer
	logger, err := logging.New(&logs, logging.Options{Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(s, daemon.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Integration.Config["entity_amount"]; got != 30 {
		t.Errorf("entity_amount = %#v, want the integer 30", got)
	}
	if got := s.Integration.Config["seed"]; got != 1 {
		t.Errorf("seed = %#v, want the spec's default 1", got)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.emu.EntityCount("fake-person"); got != 30 {
		t.Errorf("persons in Port = %d, want 30", got)
	}
	out := logs.String()
	if n := strings.Count(out, "integration.config.entityAmuont: not a setting of this source"); n != 1 {
		t.Errorf("the unknown key is reported %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "did you mean integration.config.entityAmount?") {
		t.Errorf("no suggestion in:\n%s", out)
	}
}

func TestBadIntegrationConfigStopsTheStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.settings(t, map[string]any{"entity_amount": "many", "single_department_run": true})
	_, err := daemon.New(s, daemon.Options{})
	var ve *config.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `flag: integration.config.entityAmount: must be an integer, got "many"`) {
		t.Errorf("New = %v, want the entityAmount problem", err)
	}
}

func TestIgnoredSettingsAreReportedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Environ: []string{
		"OCEAN__CLIENT_TIMEOUT=5", "OCEAN__STREAMING__ENABLED=true", "OCEAN__PORTT__X=1",
	}, Flags: map[string]string{
		"port.base_url":       b.url,
		"port.client_id":      "test-id",
		"port.client_secret":  "test-secret",
		"integration.type":    "fake",
		"integration.config":  `{"entity_amount": 3, "single_department_run": true}`,
		"event_listener.type": config.ListenerOnce,
		"state_dir":           b.stateDir,
	}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger, err := logging.New(&logs, logging.Options{Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(s, daemon.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "not acted on by oceand"); n != 1 {
		t.Errorf("ignored settings reported %d times, want once:\n%s", n, out)
	}
	for _, want := range []string{"clientTimeout (", "streaming.enabled (", "env OCEAN__PORTT__X: portt: unknown setting, ignored; did you mean OCEAN__PORT?"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

func TestRuntimeTokensAreRedacted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	red := logging.NewRedactor()
	d, err := daemon.New(b.settings(t, map[string]any{"entity_amount": 5, "single_department_run": true}), daemon.Options{Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Port hands out the same token while it is valid: the daemon's.
	tok := emulatorToken(t, b)
	if got := red.String("Authorization: Bearer " + tok); strings.Contains(got, tok) {
		t.Errorf("the daemon's Port token is not redacted: %q", got)
	}
}
