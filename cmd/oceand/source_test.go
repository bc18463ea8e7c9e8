package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// sourceTestEnv is a fake integration whose persons come 10 a page. The Port
// URL points nowhere: source test must not need Port.
func sourceTestEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	return append([]string{
		"OCEAN__PORT__CLIENT_ID=cli-id",
		"OCEAN__PORT__CLIENT_SECRET=cli-secret-value",
		"OCEAN__PORT__BASE_URL=http://127.0.0.1:1",
		"OCEAN__INTEGRATION__TYPE=fake",
		"OCEAN__INTEGRATION__IDENTIFIER=source-test",
		"OCEAN__STATE_DIR=" + t.TempDir(),
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=25",
		"OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN=true",
		"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE=10",
	}, extra...)
}

func TestSourceTestFetchesTheFirstPagesAndMapsThem(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, sourceTestEnv(t), "source", "test", "--kind", "fake-person", "--pages", "2", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var got struct {
		Resources []sourceTrial `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Resources) != 1 {
		t.Fatalf("%d resources, want the one of kind fake-person", len(got.Resources))
	}
	r := got.Resources[0]
	if r.Kind != "fake-person" || r.Pages != 2 || !r.More || len(r.Items) != 20 {
		t.Errorf("kind %s: %d pages (more: %v), %d items; want 2 pages of 10 and more to come", r.Kind, r.Pages, r.More, len(r.Items))
	}
	if r.Trial.Totals.Items != 20 || r.Trial.Totals.Entities != 20 {
		t.Errorf("mapping totals %+v, want 20 items making 20 entities", r.Trial.Totals)
	}
	if id, _ := r.Items[0]["id"].(string); id == "" || r.Trial.Items[0].Entities[0]["identifier"] != id {
		t.Errorf("first item %v does not match its entity %v", r.Items[0], r.Trial.Items[0].Entities)
	}

	code, out, errOut = runCLI(t, sourceTestEnv(t), "source", "test", "--kind", "fake-person", "--pages", "5")
	if code != exitOK || !strings.Contains(out, "fake-person-1: resources[1], kind fake-person: 25 items in 3 pages\n") ||
		strings.Contains(out, "more pages") || !strings.Contains(out, "   entity: {") {
		t.Errorf("every page of 25 persons: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestSourceTestReportsAFailedFetch(t *testing.T) {
	t.Parallel()
	env := sourceTestEnv(t, "OCEAN__INTEGRATION__CONFIG__FAIL_KIND=fake-person", "OCEAN__INTEGRATION__CONFIG__FAIL_AFTER_ITEMS=15")
	code, out, errOut := runCLI(t, env, "source", "test", "--pages", "3")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(out, "!! fetch failed:") || !strings.Contains(errOut, "1 resource of 5 failed") {
		t.Errorf("the failure is not reported:\n%s\n%s", out, errOut)
	}
	if strings.Contains(out+errOut, "cli-secret-value") {
		t.Error("the Port client secret appears in the output")
	}
}

func TestSourceTestRefusesAnUnknownKind(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, sourceTestEnv(t), "source", "test", "--kind", "nope")
	if code != exitUsage || !strings.Contains(errOut, "--kind nope") {
		t.Errorf("exit %d, want %d naming the kind\n%s", code, exitUsage, errOut)
	}
}
