package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"oceand/port"
	"oceand/port/emulator"
)

// Single entities Port refuses (a schema violation, a 207 item) leave the
// job succeeded, but every summary says so: the ONCE run's last log line,
// `jobs list` and `oceand state`, not only `jobs show`.
func TestSingleEntityFailuresAreShownEverywhere(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Config{ClientID: "cli-id", ClientSecret: "cli-secret-value"})
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	// Port's fake-person blueprint refuses persons over 50.
	pc, err := port.New(port.Config{BaseURL: srv.URL, ClientID: "cli-id", ClientSecret: "cli-secret-value",
		IntegrationType: "fake", IntegrationVersion: "1", IntegrationIdentifier: "cli-test", RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data, err := os.ReadFile("../../sources/fake/resources/blueprints.json")
	if err != nil {
		t.Fatal(err)
	}
	var bps []port.Blueprint
	if err := json.Unmarshal(data, &bps); err != nil {
		t.Fatal(err)
	}
	for _, bp := range bps {
		if bp["identifier"] == "fake-person" {
			props := bp["schema"].(map[string]any)["properties"].(map[string]any)
			props["age"].(map[string]any)["maximum"] = 50.0
		}
		if _, err := pc.CreateBlueprint(ctx, bp); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	env := []string{
		"OCEAN__STATE_DIR=" + dir, "OCEAN__LOG_FORMAT=json",
		"OCEAN__PORT__CLIENT_ID=cli-id", "OCEAN__PORT__CLIENT_SECRET=cli-secret-value", "OCEAN__PORT__BASE_URL=" + srv.URL,
		"OCEAN__INTEGRATION__TYPE=fake", "OCEAN__INTEGRATION__IDENTIFIER=cli-test", "OCEAN__EVENT_LISTENER__TYPE=ONCE",
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=40", "OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN=true",
	}
	code, out, errOut := runCLI(t, env, "run")
	if code != exitOK {
		t.Fatalf("ONCE exit %d, want 0 (single entity failures)\n%s\n%s", code, out, errOut)
	}
	failed := 40 - emu.EntityCount("fake-person")
	if failed == 0 || failed == 40 {
		t.Fatalf("%d of 40 persons refused: the test needs some, not all", failed)
	}
	var summary map[string]any
	for line := range strings.SplitSeq(errOut, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "job finished" {
			summary = rec
		}
	}
	if summary == nil || summary["level"] != "WARN" || summary["failed"] != float64(failed) || !strings.Contains(summary["note"].(string), "oceand jobs show 1") {
		t.Errorf("ONCE summary = %v, want a warning with %d failed entities", summary, failed)
	}

	code, out, _ = runCLI(t, env, "jobs", "list")
	if code != exitOK || !regexp.MustCompile(`(?m)^1 +succeeded .* with `+strconv.Itoa(failed)+` failed entities`).MatchString(out) {
		t.Errorf("jobs list (exit %d) does not say the job has %d failed entities:\n%s", code, failed, out)
	}
	code, out, _ = runCLI(t, env, "state")
	if code != exitOK || !strings.Contains(out, strconv.Itoa(failed)+" failed") {
		t.Errorf("state (exit %d) does not show %d failed:\n%s", code, failed, out)
	}
}
