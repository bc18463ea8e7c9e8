package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"oceand/buildinfo"
	"oceand/daemon"
	"oceand/mapping"
	"oceand/port"
	"oceand/port/emulator"
	"oceand/resync"
	"oceand/sources"
	"oceand/sources/custom"
	"oceand/sources/fake"
	"oceand/store"
)

// benchIdentifier is the integration the benchmark registers;
// benchClientID is the emulator's client the daemons log in as.
const (
	benchIdentifier = "oceand-bench"
	benchClientID   = "oceand-bench"
)

// benchResult is `oceand bench --json`. The first fields are the ones the
// issue names; the rest explain them.
type benchResult struct {
	Entities        int64          `json:"entities"`
	FullSeconds     float64        `json:"fullSeconds"`
	FloorSeconds    float64        `json:"floorSeconds"`
	Ratio           float64        `json:"ratio"`
	NoChangeSeconds float64        `json:"noChangeSeconds"`
	NoChangeUpserts int64          `json:"noChangeUpserts"`
	ChangedSeconds  float64        `json:"changedSeconds"`
	PortRequests    map[string]int `json:"portRequests"`
	PeakRSSBytes    int64          `json:"peakRSSBytes"`

	Persons           int              `json:"persons"`
	KB                int              `json:"kb"`
	ChangedUpserts    int64            `json:"changedUpserts"`
	ChangedPersons    int              `json:"changedPersons"`
	BulkRequests      map[string]int   `json:"bulkRequests"`
	PeakRSSBytesPhase map[string]int64 `json:"peakRSSBytesByPhase"`
	// CPUSeconds is the CPU time of the daemon (or floor) process and of
	// the emulator (this process) per phase, whole processes included.
	CPUSeconds map[string]cpuSplit `json:"cpuSeconds"`
}

type cpuSplit struct {
	Daemon   float64 `json:"daemon"`
	Emulator float64 `json:"emulator"`
}

func (a *app) benchCommand() *cobra.Command {
	var persons, kb int
	var asJSON bool
	var profileDir string
	var shipping, rounds int
	var source string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the resync against the built-in Port emulator",
		Long: `bench starts the Port emulator in this process on a loopback port and runs the real
daemon (oceand run, listener ONCE) against it in child processes, with the fake source
in one department:

  full       the first resync: every entity is new
  no change  the same data again: nothing may be sent
  changed    revision 1 with 10% of persons changed: only those may be sent
  floor      the full resync's bulk requests, encoded beforehand, sent by the same
             Port client with the same concurrency: what Port (here the emulator) and
             HTTP cost, with no fetching, mapping, diffing or bookkeeping

Times are the jobs' own durations (start-up and registration excluded). The daemon runs
in its own process so that its peak RSS (VmHWM, read by the daemon process itself) is
measured without the emulator's memory.

With --source custom, it compares the custom source with the fake source instead: the
fake source's department and persons (pages of 100) are served by a loopback REST API in
this process (GET /persons?page=N&size=100, every page encoded beforehand), and each
source runs a full and a no-change resync per round, from an empty catalog and state,
with the same entity mappings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if persons < 1 || kb < 1 {
				return usageError{fmt.Errorf("--persons and --kb must be at least 1")}
			}
			switch source {
			case "":
			case custom.Type:
				if rounds < 1 {
					return usageError{fmt.Errorf("--rounds must be at least 1")}
				}
				res, err := a.benchSource(cmd.Context(), cmd.ErrOrStderr(), persons, kb, rounds, profileDir)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), res)
				}
				writeSourceBench(cmd.OutOrStdout(), res)
				return nil
			default:
				return usageError{fmt.Errorf("--source %q: the comparison exists for %q only", source, custom.Type)}
			}
			if shipping > 0 {
				res, err := a.benchShipping(cmd.Context(), cmd.ErrOrStderr(), persons, kb, shipping)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), res)
				}
				writeShipping(cmd.OutOrStdout(), res)
				return nil
			}
			res, err := a.bench(cmd.Context(), cmd.ErrOrStderr(), persons, kb, profileDir)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			writeBench(cmd.OutOrStdout(), res)
			return nil
		},
	}
	cmd.Flags().IntVar(&persons, "persons", 100000, "number of fake persons")
	cmd.Flags().IntVar(&kb, "kb", 1, "size of each person's bio in KiB")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&profileDir, "profile", "", "write CPU and allocation profiles of each daemon phase to this directory")
	cmd.Flags().IntVar(&shipping, "shipping", 0, "instead of the phases, compare N rounds of the full resync with what Port's UI is sent (examples, logs, sync metrics) on and off")
	cmd.Flags().StringVar(&source, "source", "", "instead of the phases, compare this source (custom) with the fake source on the same items: full and no-change resyncs of each, in pages of 100, from a loopback API")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "with --source: rounds of the comparison, alternating which source goes first; figures are medians")
	cmd.AddCommand(a.benchDaemonCommand(), a.benchFloorCommand())
	return cmd
}

func (a *app) bench(ctx context.Context, progress io.Writer, persons, kb int, profileDir string) (*benchResult, error) {
	h, err := a.newBenchHarness(ctx, "oceand-bench-*", profileDir)
	if err != nil {
		return nil, err
	}
	defer h.close()
	stateDir := filepath.Join(h.dir, "state")
	env := benchEnv(os.Environ(), h.daemonEnv(benchIdentifier, stateDir, fakeBenchSettings(persons, kb, 1000, map[string]string{
		"OCEAN__LOG_LEVEL":                            "warning",
		"OCEAN__LOG_FORMAT":                           "text",
		"OCEAN__INTEGRATION__CONFIG__CHANGED_PERCENT": "10",
		"OCEAN__INTEGRATION__CONFIG__REVISION":        "0",
	})))
	res := &benchResult{Persons: persons, KB: kb, PortRequests: map[string]int{}, BulkRequests: map[string]int{},
		PeakRSSBytesPhase: map[string]int64{}, CPUSeconds: map[string]cpuSplit{}}
	statePath := daemon.StatePath(stateDir)
	phase := func(name string, extra map[string]string) (*store.Job, error) {
		fmt.Fprintf(progress, "bench: %s resync...\n", name)
		p, err := h.daemonPhase(name, withEnv(env, extra), statePath)
		if err != nil {
			return nil, err
		}
		res.CPUSeconds[name] = p.cpu
		res.PortRequests[name] = p.portRequests
		res.BulkRequests[name] = p.bulkRequests
		res.PeakRSSBytesPhase[name] = p.peakRSS
		res.PeakRSSBytes = max(res.PeakRSSBytes, p.peakRSS)
		return p.job, nil
	}
	full, err := phase("full", nil)
	if err != nil {
		return nil, err
	}
	res.Entities = full.Totals.Mapped
	res.FullSeconds = full.Duration(time.Now()).Seconds()
	noChange, err := phase("noChange", nil)
	if err != nil {
		return nil, err
	}
	res.NoChangeSeconds = noChange.Duration(time.Now()).Seconds()
	res.NoChangeUpserts = noChange.Totals.Upserted
	changed, err := phase("changed", map[string]string{"OCEAN__INTEGRATION__CONFIG__REVISION": "1"})
	if err != nil {
		return nil, err
	}
	res.ChangedSeconds = changed.Duration(time.Now()).Seconds()
	res.ChangedUpserts = changed.Totals.Upserted
	src, err := fake.ParseSettings(map[string]any{"entity_amount": persons, "single_department_run": true, "revision": 1, "changed_percent": 10})
	if err != nil {
		return nil, err
	}
	res.ChangedPersons = fake.New(src).ChangedPersons()

	// The floor writes the same entities again as creates: empty Port's
	// blueprints first, as they were before the full resync.
	h.emptyCatalog()
	fmt.Fprintln(progress, "bench: floor...")
	h.emu.ResetCounters()
	var out bytes.Buffer
	cpu, err := h.child(env, []string{"bench", "floor"}, &out)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	res.CPUSeconds["floor"] = cpu
	var floor floorResult
	if err := json.Unmarshal(out.Bytes(), &floor); err != nil {
		return nil, fmt.Errorf("floor: %w: %s", err, out.String())
	}
	res.FloorSeconds = floor.Seconds
	res.PortRequests["floor"] = h.emu.TotalRequests()
	res.BulkRequests["floor"] = h.emu.Requests()[bulkRoute]
	if res.FloorSeconds > 0 {
		res.Ratio = res.FullSeconds / res.FloorSeconds
	}
	return res, nil
}

// bulkRoute is the emulator's route of bulk upserts, as it counts them.
const bulkRoute = "POST /v1/blueprints/{bp}/entities/bulk"

// benchHarness is what every bench mode shares: the Port emulator in this
// process on a loopback port, a temporary directory the children run in,
// and how to run them and read what they did.
type benchHarness struct {
	ctx      context.Context
	exe, dir string
	// profileDir, when set, receives CPU and allocation profiles of each
	// daemon phase.
	profileDir string
	emu        *emulator.Server
	portURL    string
	secret     string
}

// newBenchHarness starts the emulator with a fresh client secret (added to
// the redactor) and makes the temporary directory (pattern as for
// os.MkdirTemp). close undoes both.
func (a *app) newBenchHarness(ctx context.Context, pattern, profileDir string) (*benchHarness, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if profileDir != "" {
		// The children run in the bench's temporary directory: a relative
		// path must be resolved here.
		if profileDir, err = filepath.Abs(profileDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			return nil, fmt.Errorf("profile directory: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	secret := randomSecret()
	a.redactor.Add(secret)
	emu := emulator.New(emulator.Config{ClientID: benchClientID, ClientSecret: secret})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &benchHarness{ctx: ctx, exe: exe, dir: dir, profileDir: profileDir, emu: emu, portURL: url, secret: secret}, nil
}

func (h *benchHarness) close() {
	h.emu.Close()
	os.RemoveAll(h.dir)
}

// daemonEnv is the settings of a daemon child: this emulator, listener
// ONCE, the integration identifier and state directory, plus set.
func (h *benchHarness) daemonEnv(identifier, stateDir string, set map[string]string) map[string]string {
	env := map[string]string{
		"OCEAN__PORT__BASE_URL":          h.portURL,
		"OCEAN__PORT__CLIENT_ID":         benchClientID,
		"OCEAN__PORT__CLIENT_SECRET":     h.secret,
		"OCEAN__INTEGRATION__IDENTIFIER": identifier,
		"OCEAN__EVENT_LISTENER__TYPE":    "ONCE",
		"OCEAN__STATE_DIR":               stateDir,
	}
	maps.Copy(env, set)
	return env
}

// child runs oceand with args and env in the harness's directory and
// returns the CPU time of the child and of this process meanwhile.
func (h *benchHarness) child(env, args []string, stdout io.Writer) (cpuSplit, error) {
	emuCPU := selfCPU()
	cpu, err := runChild(h.ctx, h.exe, h.dir, env, args, stdout)
	if err != nil {
		return cpuSplit{}, err
	}
	return cpuSplit{Daemon: cpu.Seconds(), Emulator: (selfCPU() - emuCPU).Seconds()}, nil
}

// daemonPhase is what one daemon child did.
type daemonPhase struct {
	job          *store.Job
	peakRSS      int64
	cpu          cpuSplit
	portRequests int
	bulkRequests int
}

// daemonPhase runs one resync as `oceand bench daemon` with env and reads
// its job (which must have succeeded) from the state at statePath. name
// names the phase in errors and profile files.
func (h *benchHarness) daemonPhase(name string, env []string, statePath string) (*daemonPhase, error) {
	h.emu.ResetCounters()
	args := []string{"bench", "daemon"}
	if h.profileDir != "" {
		args = append(args, "--cpuprofile", filepath.Join(h.profileDir, name+".cpu.pprof"),
			"--allocprofile", filepath.Join(h.profileDir, name+".alloc.pprof"))
	}
	var out bytes.Buffer
	cpu, err := h.child(env, args, &out)
	if err != nil {
		return nil, fmt.Errorf("%s resync: %w", name, err)
	}
	var child daemonResult
	if err := json.Unmarshal(out.Bytes(), &child); err != nil {
		return nil, fmt.Errorf("%s resync: %w: %s", name, err, out.String())
	}
	job, err := lastJob(statePath)
	if err != nil {
		return nil, fmt.Errorf("%s resync: %w", name, err)
	}
	return &daemonPhase{job: job, peakRSS: child.PeakRSSBytes, cpu: cpu,
		portRequests: h.emu.TotalRequests(), bulkRequests: h.emu.Requests()[bulkRoute]}, nil
}

// emptyCatalog deletes every entity from the emulator, leaving the
// blueprints: the next full resync starts as the first did.
func (h *benchHarness) emptyCatalog() {
	for _, bp := range h.emu.Blueprints() {
		for _, id := range h.emu.Identifiers(bp) {
			h.emu.DeleteEntity(bp, id)
		}
	}
}

// fakeBenchSettings are the fake source's settings of a bench daemon:
// persons of kb KiB in one department, pageSize a page, seed 1, no
// latency; extra adds to them.
func fakeBenchSettings(persons, kb, pageSize int, extra map[string]string) map[string]string {
	set := map[string]string{
		"OCEAN__INTEGRATION__TYPE":                           fake.Type,
		"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT":          strconv.Itoa(persons),
		"OCEAN__INTEGRATION__CONFIG__ENTITY_KB_SIZE":         strconv.Itoa(kb),
		"OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN":  "true",
		"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE": strconv.Itoa(pageSize),
		"OCEAN__INTEGRATION__CONFIG__SEED":                   "1",
		"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS": "0",
	}
	maps.Copy(set, extra)
	return set
}

// benchEnv is the parent's environment without oceand settings, plus set:
// a config.yaml, .env or OCEAN__ variable of the caller must not change
// what is measured.
func benchEnv(environ []string, set map[string]string) []string {
	var out []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "OCEAN__") || strings.HasPrefix(kv, "APPLICATION__") {
			continue
		}
		out = append(out, kv)
	}
	return withEnv(out, set)
}

func withEnv(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+set[k])
	}
	return out
}

// runChild runs oceand with args in dir and returns the CPU time it used.
func runChild(ctx context.Context, exe, dir string, env, args []string, stdout io.Writer) (time.Duration, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func lastJob(statePath string) (*store.Job, error) {
	st, err := store.Open(statePath, store.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	jobs, err := st.ListJobs(store.ListOptions{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("no job in %s", statePath)
	}
	j := jobs[0]
	if j.State != store.JobSucceeded {
		return nil, fmt.Errorf("job %d %s: %s", j.ID, j.State, j.Error)
	}
	return j, nil
}

func writeBench(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "oceand bench: %d persons of %d KiB (%d entities), Port emulator over loopback HTTP\n\n", r.Persons, r.KB, r.Entities)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tSECONDS\tENTITIES/S\tUPSERTS\tPORT REQUESTS\tBULK REQUESTS\tPEAK RSS\tCPU S (DAEMON/EMULATOR)")
	perSec := func(s float64) string {
		if s <= 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(r.Entities)/s, 'f', 0, 64)
	}
	mb := func(b int64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	}
	cpu := func(phase string) string {
		c := r.CPUSeconds[phase]
		return fmt.Sprintf("%.2f / %.2f", c.Daemon, c.Emulator)
	}
	fmt.Fprintf(tw, "full\t%.2f\t%s\t%d\t%d\t%d\t%s\t%s\n", r.FullSeconds, perSec(r.FullSeconds), r.Entities, r.PortRequests["full"], r.BulkRequests["full"], mb(r.PeakRSSBytesPhase["full"]), cpu("full"))
	fmt.Fprintf(tw, "floor\t%.2f\t%s\t%d\t%d\t%d\t-\t%s\n", r.FloorSeconds, perSec(r.FloorSeconds), r.Entities, r.PortRequests["floor"], r.BulkRequests["floor"], cpu("floor"))
	fmt.Fprintf(tw, "no change\t%.2f\t\t%d\t%d\t%d\t%s\t%s\n", r.NoChangeSeconds, r.NoChangeUpserts, r.PortRequests["noChange"], r.BulkRequests["noChange"], mb(r.PeakRSSBytesPhase["noChange"]), cpu("noChange"))
	fmt.Fprintf(tw, "10%% changed\t%.2f\t\t%d\t%d\t%d\t%s\t%s\n", r.ChangedSeconds, r.ChangedUpserts, r.PortRequests["changed"], r.BulkRequests["changed"], mb(r.PeakRSSBytesPhase["changed"]), cpu("changed"))
	tw.Flush()
	pct := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * a / b
	}
	fmt.Fprintf(w, "\nfull / floor:          %.2f   (target <= 1.5)\n", r.Ratio)
	fmt.Fprintf(w, "no change / full:      %.1f%%  (target < 20%%), %d upserts (target 0)\n", pct(r.NoChangeSeconds, r.FullSeconds), r.NoChangeUpserts)
	fmt.Fprintf(w, "10%% changed / full:    %.1f%%  (target < 35%%), %d upserts for %d changed persons\n", pct(r.ChangedSeconds, r.FullSeconds), r.ChangedUpserts, r.ChangedPersons)
	fmt.Fprintf(w, "daemon peak RSS:       %s (target < 150 MB)\n", mb(r.PeakRSSBytes))
}

// daemonResult is what `oceand bench daemon` prints.
type daemonResult struct {
	PeakRSSBytes int64 `json:"peakRSSBytes"`
}

// benchDaemonCommand is a daemon phase's child process: `oceand run`, then
// its own peak RSS. The peak is read from inside: a child's rusage maxrss
// on Linux starts from its parent's RSS (the emulator's) at exec.
func (a *app) benchDaemonCommand() *cobra.Command {
	var cpuProfile, allocProfile string
	cmd := &cobra.Command{
		Use:    "daemon",
		Short:  "Run the daemon and print its peak RSS (used by oceand bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			runErr := a.runCommand().RunE(cmd, args)
			stop()
			if runErr != nil {
				return runErr
			}
			if err := writeAllocProfile(allocProfile); err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(daemonResult{PeakRSSBytes: selfPeakRSS()})
		},
	}
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	cmd.Flags().StringVar(&allocProfile, "allocprofile", "", "write an allocation profile to this file")
	return cmd
}

// floorResult is what `oceand bench floor` prints.
type floorResult struct {
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Entities int     `json:"entities"`
}

// benchFloorCommand is the floor's child process: it encodes every bulk
// request of a full resync first, then times sending them.
func (a *app) benchFloorCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "floor",
		Short:  "Send a full resync's bulk requests, encoded beforehand (used by oceand bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.loadSettings()
			if err != nil {
				return err
			}
			def, err := daemon.Builtin().Lookup(s.Integration.Type)
			if err != nil {
				return err
			}
			src, err := def.New(s.Integration.Config, sources.Env{Logger: slog.New(slog.DiscardHandler), StateDir: s.StateDir, AddSecrets: func(...string) {}})
			if err != nil {
				return err
			}
			pc, err := port.New(port.Config{
				BaseURL: s.Port.BaseURL, ClientID: s.Port.ClientID, ClientSecret: s.Port.ClientSecret,
				IntegrationType: s.Integration.Type, IntegrationVersion: buildinfo.Version, IntegrationIdentifier: s.Integration.Identifier,
				MaxConcurrentRequests: s.Port.MaxConcurrentRequests,
			})
			if err != nil {
				return err
			}
			res, err := sendFloor(cmd.Context(), pc, src, def.Defaults.PortAppConfig)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
}

type floorRequest struct {
	blueprint string
	bodies    []json.RawMessage
}

// sendFloor builds the bulk requests a full resync sends (same mapping,
// same per-blueprint batching) and times sending them with as many in
// flight as the resync allows.
func sendFloor(ctx context.Context, pc *port.Client, src sources.Source, portAppConfig []byte) (*floorResult, error) {
	cfg, err := mapping.ParseYAML(portAppConfig)
	if err != nil {
		return nil, err
	}
	m, err := mapping.Compile(cfg, mapping.Options{})
	if err != nil {
		return nil, err
	}
	var reqs []floorRequest
	entities := 0
	for _, rm := range m.Resources() {
		open := map[string]*port.Batcher{}
		err := src.Fetch(ctx, sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw}, func(items []map[string]any) error {
			for _, item := range items {
				r, err := rm.Map(ctx, item)
				if err != nil {
					return err
				}
				for _, e := range r.Entities {
					body, err := json.Marshal(e)
					if err != nil {
						return err
					}
					entities++
					b := open[e.Blueprint()]
					if b == nil {
						b = port.NewBatcher()
						open[e.Blueprint()] = b
					}
					if full := b.Add(body); full != nil {
						reqs = append(reqs, floorRequest{e.Blueprint(), full})
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		bps := make([]string, 0, len(open))
		for bp := range open {
			bps = append(bps, bp)
		}
		sort.Strings(bps)
		for _, bp := range bps {
			if open[bp].Len() > 0 {
				reqs = append(reqs, floorRequest{bp, open[bp].Flush()})
			}
		}
	}
	opts := port.WriteOptions{Merge: cfg.EnableMergeEntity, CreateMissingRelatedEntities: cfg.CreateMissingRelatedEntities, EventType: "resync", ResyncID: "floor"}
	// The daemon holds a token before its job starts; so does the floor.
	if _, err := pc.GetIntegration(ctx); err != nil {
		return nil, err
	}
	work := make(chan floorRequest)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range resync.DefaultInFlightBatches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				if _, err := pc.UpsertEntities(ctx, r.blueprint, r.bodies, opts); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	return &floorResult{Seconds: elapsed.Seconds(), Requests: len(reqs), Entities: entities}, nil
}
