package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"oceand/daemon"
)

// shippingResult is `oceand bench --shipping --json`: the same full resync
// with what Port's UI is sent (raw examples, logs at info, sync metrics and
// heartbeats) turned on and off, in alternating rounds.
type shippingResult struct {
	Persons    int       `json:"persons"`
	KB         int       `json:"kb"`
	Entities   int64     `json:"entities"`
	OnSeconds  []float64 `json:"onSeconds"`
	OffSeconds []float64 `json:"offSeconds"`
	// Ratio is the median with shipping on over the median with it off.
	Ratio float64 `json:"ratio"`
	// OnCPU and OffCPU are the daemon process's CPU seconds per run (start-
	// up included), which the load of other processes moves less than
	// wall time; CPURatio compares their medians.
	OnCPU        []float64 `json:"onCpuSeconds"`
	OffCPU       []float64 `json:"offCpuSeconds"`
	CPURatio     float64   `json:"cpuRatio"`
	LogBatches   int       `json:"logBatches"`
	ExamplePosts int       `json:"examplePosts"`
	KindPuts     int       `json:"kindPuts"`
}

// benchShipping runs rounds of (on, off) or (off, on) full resyncs, each
// from an empty state and an empty catalog.
func (a *app) benchShipping(ctx context.Context, progress io.Writer, persons, kb, rounds int) (*shippingResult, error) {
	h, err := a.newBenchHarness(ctx, "oceand-bench-shipping-*", "")
	if err != nil {
		return nil, err
	}
	defer h.close()
	stateDir := filepath.Join(h.dir, "state")
	env := benchEnv(os.Environ(), h.daemonEnv(benchIdentifier, stateDir, fakeBenchSettings(persons, kb, 1000, map[string]string{
		"OCEAN__LOG_LEVEL":  "info",
		"OCEAN__LOG_FORMAT": "json",
	})))
	off := map[string]string{
		"OCEAN__SEND_RAW_DATA_EXAMPLES":    "false",
		"APPLICATION__ENABLE_HTTP_LOGGING": "false",
		"OCEAN__SEND_SYNC_METRICS":         "false",
	}
	res := &shippingResult{Persons: persons, KB: kb}
	run := func(on, measure bool) error {
		name := map[bool]string{true: "on", false: "off"}[on]
		if measure {
			fmt.Fprintf(progress, "bench: full resync, shipping %s...\n", name)
		} else {
			fmt.Fprintf(progress, "bench: full resync, shipping %s, to warm up (not counted)...\n", name)
		}
		if err := os.RemoveAll(stateDir); err != nil {
			return err
		}
		h.emptyCatalog()
		extra := off
		if on {
			extra = nil
		}
		p, err := h.daemonPhase("shipping "+name, withEnv(env, extra), daemon.StatePath(stateDir))
		if err != nil {
			return err
		}
		job := p.job
		secs := job.Duration(time.Now()).Seconds()
		res.Entities = job.Totals.Mapped
		switch {
		case !measure:
		case on:
			res.OnSeconds = append(res.OnSeconds, secs)
			res.OnCPU = append(res.OnCPU, p.cpu.Daemon)
			reqs := h.emu.Requests()
			res.LogBatches = reqs["POST /ingest/logs/{id}"]
			res.ExamplePosts = reqs["POST /v1/integration/{id}/kinds/{kind}/examples"]
			res.KindPuts = reqs["PUT /ingest/metrics/{id}/syncMetrics/resync/{event}/kind/{kind}"]
		default:
			res.OffSeconds = append(res.OffSeconds, secs)
			res.OffCPU = append(res.OffCPU, p.cpu.Daemon)
		}
		return nil
	}
	// The first run warms this process's emulator (its heap, its maps) and
	// the page cache; counted, it made whichever side went first slower.
	if err := run(true, false); err != nil {
		return nil, err
	}
	for i := range rounds {
		// Alternate which goes first: a warm page cache or a hot CPU
		// favours neither side.
		first := i%2 == 0
		if err := run(first, true); err != nil {
			return nil, err
		}
		if err := run(!first, true); err != nil {
			return nil, err
		}
	}
	if m := median(res.OffSeconds); m > 0 {
		res.Ratio = median(res.OnSeconds) / m
	}
	if m := median(res.OffCPU); m > 0 {
		res.CPURatio = median(res.OnCPU) / m
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeShipping(w io.Writer, r *shippingResult) {
	fmt.Fprintf(w, "oceand bench --shipping: %d persons of %d KiB (%d entities), full resync, %d rounds\n\n", r.Persons, r.KB, r.Entities, len(r.OnSeconds))
	fmt.Fprintf(w, "shipping on  (examples, logs at info, sync metrics, heartbeats): %v s, median %.3f\n", round3(r.OnSeconds), median(r.OnSeconds))
	fmt.Fprintf(w, "shipping off:                                                  %v s, median %.3f\n", round3(r.OffSeconds), median(r.OffSeconds))
	fmt.Fprintf(w, "on / off:  %.3f  (target <= 1.05); last 'on' round sent %d log batches, %d example posts, %d kind metric PUTs\n",
		r.Ratio, r.LogBatches, r.ExamplePosts, r.KindPuts)
	fmt.Fprintf(w, "daemon CPU seconds on %v, off %v: on / off %.3f\n", round3(r.OnCPU), round3(r.OffCPU), r.CPURatio)
}

func round3(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*1000+0.5)) / 1000
	}
	return out
}
