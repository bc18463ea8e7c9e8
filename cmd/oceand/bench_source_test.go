package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestBenchSourceCustom runs the comparison at a tiny size as a user
// would, through the binary: both sources resync the same 300 persons
// (plus their department), the custom one from the loopback API in pages
// of 100, and the no-change resyncs send nothing.
func TestBenchSourceCustom(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	cmd := exec.Command(bin, "bench", "--source", "custom", "--persons", "300", "--rounds", "1", "--json")
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench --source custom: %v\n%s", err, stderr.String())
	}
	var res sourceBenchResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Entities != 301 || res.Rounds != 1 || len(res.Runs) != 4 {
		t.Fatalf("entities %d, rounds %d, runs %d; want 301, 1, 4:\n%s", res.Entities, res.Rounds, len(res.Runs), out)
	}
	// The department, then 3 pages of persons: the last says has_more false.
	wantAPI := map[string]int{"fake": 0, "custom": 4}
	for _, run := range res.Runs {
		switch run.Phase {
		case "full":
			if run.Upserted != 301 || run.Mapped != 301 {
				t.Errorf("%s full: mapped %d, upserted %d; want 301 each", run.Source, run.Mapped, run.Upserted)
			}
		case "noChange":
			if run.Upserted != 0 || run.BulkRequests != 0 {
				t.Errorf("%s no change: %d upserts in %d bulk requests; want none", run.Source, run.Upserted, run.BulkRequests)
			}
		default:
			t.Errorf("unexpected phase %q", run.Phase)
		}
		if run.APIRequests != wantAPI[run.Source] {
			t.Errorf("%s %s: %d API requests, want %d", run.Source, run.Phase, run.APIRequests, wantAPI[run.Source])
		}
		if run.Seconds <= 0 || run.PeakRSSBytes <= 0 {
			t.Errorf("%s %s: %v s, peak RSS %d: not measured", run.Source, run.Phase, run.Seconds, run.PeakRSSBytes)
		}
	}
	if res.FullRatio <= 0 || res.PeakRSSRatio <= 0 {
		t.Errorf("ratios not computed: full %v, peak RSS %v", res.FullRatio, res.PeakRSSRatio)
	}
}

func TestBenchSourceUnknown(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, nil, "bench", "--source", "github", "--persons", "10")
	if code != exitUsage || !strings.Contains(errOut, `--source "github"`) {
		t.Errorf("exit %d, stderr %q; want a usage error naming the source", code, errOut)
	}
}
