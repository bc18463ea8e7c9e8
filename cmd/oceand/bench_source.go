package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"oceand/buildinfo"
	"oceand/daemon"
	"oceand/mapping"
	"oceand/port"
	"oceand/sources"
	"oceand/sources/custom"
	"oceand/sources/fake"
)

// sourcePageSize is the page size of both sources in the comparison: the
// fake source's thirdPartyBatchSize and the custom source's pageSize.
const sourcePageSize = 100

// sourceBenchResult is `oceand bench --source custom --json`: the fake and
// the custom source resyncing the same items, medians over the rounds.
type sourceBenchResult struct {
	Source   string `json:"source"`
	Persons  int    `json:"persons"`
	KB       int    `json:"kb"`
	PageSize int    `json:"pageSize"`
	Rounds   int    `json:"rounds"`
	Entities int64  `json:"entities"`
	// FullRatio is the custom source's median full resync time over the
	// fake source's; PeakRSSRatio the same for the daemons' peak RSS and
	// DaemonCPURatio for the full resyncs' daemon CPU seconds.
	FullRatio      float64       `json:"fullRatio"`
	PeakRSSRatio   float64       `json:"peakRSSRatio"`
	DaemonCPURatio float64       `json:"daemonCpuRatio"`
	Fake           sourceSummary `json:"fake"`
	Custom         sourceSummary `json:"custom"`
	Runs           []sourceRun   `json:"runs"`
}

// sourceSummary is one source's medians over the rounds.
type sourceSummary struct {
	FullSeconds     float64 `json:"fullSeconds"`
	NoChangeSeconds float64 `json:"noChangeSeconds"`
	// NoChangeUpserts is the most any round's no-change resync upserted.
	NoChangeUpserts int64 `json:"noChangeUpserts"`
	// PeakRSSBytes is the median of each round's peak (full or no change).
	PeakRSSBytes  int64   `json:"peakRSSBytes"`
	FullDaemonCPU float64 `json:"fullDaemonCpuSeconds"`
}

// sourceRun is one daemon phase of one round.
type sourceRun struct {
	Round        int     `json:"round"`
	Source       string  `json:"source"`
	Phase        string  `json:"phase"`
	Seconds      float64 `json:"seconds"`
	Mapped       int64   `json:"mapped"`
	Upserted     int64   `json:"upserted"`
	PeakRSSBytes int64   `json:"peakRSSBytes"`
	// CPUSeconds: Emulator is this process, which also serves the
	// custom source's API.
	CPUSeconds   cpuSplit `json:"cpuSeconds"`
	PortRequests int      `json:"portRequests"`
	BulkRequests int      `json:"bulkRequests"`
	APIRequests  int      `json:"apiRequests"`
}

// phaseLabel names a phase of the comparison for people.
func phaseLabel(phase string) string {
	if phase == "noChange" {
		return "no change"
	}
	return phase
}

// Identifiers of the two integrations the comparison registers.
const (
	benchFakeIdentifier   = "oceand-bench-fake"
	benchCustomIdentifier = "oceand-bench-custom"
)

// benchSource compares the custom source against the fake source on the
// same items: rounds of (full, no change) for each, alternating which
// source goes first, each full resync from an empty catalog and state.
func (a *app) benchSource(ctx context.Context, progress io.Writer, persons, kb, rounds int, profileDir string) (_ *sourceBenchResult, err error) {
	h, err := a.newBenchHarness(ctx, "oceand-bench-custom-*", profileDir)
	if err != nil {
		return nil, err
	}
	defer h.close()

	fmt.Fprintf(progress, "bench: encoding %d persons in pages of %d...\n", persons, sourcePageSize)
	api, err := newBenchAPI(ctx, persons, kb)
	if err != nil {
		return nil, err
	}
	apiURL, err := api.start()
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := api.close(); cerr != nil && err == nil {
			err = fmt.Errorf("loopback API: %w", cerr)
		}
	}()

	fakeMapping, customMapping, err := benchSourceMappings()
	if err != nil {
		return nil, err
	}
	if err := h.installSourceBench(fakeMapping, customMapping); err != nil {
		return nil, err
	}

	common := map[string]string{
		"OCEAN__LOG_LEVEL":  "warning",
		"OCEAN__LOG_FORMAT": "text",
	}
	withCommon := func(set map[string]string) map[string]string {
		for k, v := range common {
			set[k] = v
		}
		return set
	}
	type setup struct {
		name, stateDir string
		env            []string
	}
	fakeState := filepath.Join(h.dir, "state-fake")
	customState := filepath.Join(h.dir, "state-custom")
	setups := map[string]setup{
		fake.Type: {fake.Type, fakeState, benchEnv(os.Environ(), h.daemonEnv(benchFakeIdentifier, fakeState, withCommon(fakeBenchSettings(persons, kb, sourcePageSize, nil))))},
		custom.Type: {custom.Type, customState, benchEnv(os.Environ(), h.daemonEnv(benchCustomIdentifier, customState, withCommon(map[string]string{
			"OCEAN__INTEGRATION__TYPE":                    custom.Type,
			"OCEAN__INTEGRATION__CONFIG__BASE_URL":        apiURL,
			"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE":       "none",
			"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE": "page",
			"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE":       strconv.Itoa(sourcePageSize),
			"OCEAN__INTEGRATION__CONFIG__HAS_MORE_PATH":   "has_more",
		})))},
	}

	res := &sourceBenchResult{Source: custom.Type, Persons: persons, KB: kb, PageSize: sourcePageSize, Rounds: rounds}
	runSource := func(round int, s setup) error {
		// Each full resync starts as the first one does: an empty catalog
		// and no state.
		h.emptyCatalog()
		if err := os.RemoveAll(s.stateDir); err != nil {
			return err
		}
		for _, phase := range []string{"full", "noChange"} {
			fmt.Fprintf(progress, "bench: round %d, %s source, %s resync...\n", round, s.name, phaseLabel(phase))
			api.requests.Store(0)
			p, err := h.daemonPhase(fmt.Sprintf("%s-%s-%d", s.name, phase, round), s.env, daemon.StatePath(s.stateDir))
			if err != nil {
				return fmt.Errorf("%s source: %w", s.name, err)
			}
			res.Runs = append(res.Runs, sourceRun{
				Round: round, Source: s.name, Phase: phase,
				Seconds: p.job.Duration(time.Now()).Seconds(),
				Mapped:  p.job.Totals.Mapped, Upserted: p.job.Totals.Upserted,
				PeakRSSBytes: p.peakRSS, CPUSeconds: p.cpu,
				PortRequests: p.portRequests, BulkRequests: p.bulkRequests,
				APIRequests: int(api.requests.Load()),
			})
		}
		return nil
	}
	for round := 1; round <= rounds; round++ {
		// Alternate which source goes first: a warm page cache or a hot
		// CPU favours neither.
		order := []string{fake.Type, custom.Type}
		if round%2 == 0 {
			order = []string{custom.Type, fake.Type}
		}
		for _, name := range order {
			if err := runSource(round, setups[name]); err != nil {
				return nil, err
			}
		}
	}
	if err := res.summarize(); err != nil {
		return nil, err
	}
	return res, nil
}

// summarize computes the medians and ratios, and checks that both sources
// mapped the same number of entities (else the comparison means nothing).
func (r *sourceBenchResult) summarize() error {
	for _, src := range []string{fake.Type, custom.Type} {
		var full, noChange, rss, cpu []float64
		var sum sourceSummary
		peaks := map[int]int64{}
		for _, run := range r.Runs {
			if run.Source != src {
				continue
			}
			peaks[run.Round] = max(peaks[run.Round], run.PeakRSSBytes)
			switch run.Phase {
			case "full":
				full = append(full, run.Seconds)
				cpu = append(cpu, run.CPUSeconds.Daemon)
				if r.Entities == 0 {
					r.Entities = run.Mapped
				}
				if run.Mapped != r.Entities {
					return fmt.Errorf("round %d: the %s source mapped %d entities, the other %d: the sources did not see the same items", run.Round, src, run.Mapped, r.Entities)
				}
			case "noChange":
				noChange = append(noChange, run.Seconds)
				sum.NoChangeUpserts = max(sum.NoChangeUpserts, run.Upserted)
			}
		}
		for _, p := range peaks {
			rss = append(rss, float64(p))
		}
		sum.FullSeconds, sum.NoChangeSeconds = median(full), median(noChange)
		sum.PeakRSSBytes, sum.FullDaemonCPU = int64(median(rss)), median(cpu)
		if src == fake.Type {
			r.Fake = sum
		} else {
			r.Custom = sum
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	r.FullRatio = ratio(r.Custom.FullSeconds, r.Fake.FullSeconds)
	r.PeakRSSRatio = ratio(float64(r.Custom.PeakRSSBytes), float64(r.Fake.PeakRSSBytes))
	r.DaemonCPURatio = ratio(r.Custom.FullDaemonCPU, r.Fake.FullDaemonCPU)
	return nil
}

// benchSourceMappings are the fake source's department and person
// resources, and the same entity mappings for the custom source's
// /departments and /persons endpoints, as a custom user writes them.
func benchSourceMappings() (fakeCfg, customCfg *mapping.Config, err error) {
	parse := func() (*mapping.Config, error) {
		c, err := mapping.ParseYAML(fake.Definition().Defaults.PortAppConfig)
		if err != nil {
			return nil, err
		}
		var keep []mapping.Resource
		for _, r := range c.Resources {
			if r.Kind == fake.KindDepartment || r.Kind == fake.KindPerson {
				keep = append(keep, r)
			}
		}
		if len(keep) != 2 {
			return nil, fmt.Errorf("the fake source's mapping has %d department and person resources, want 2", len(keep))
		}
		c.Resources = keep
		return c, nil
	}
	if fakeCfg, err = parse(); err != nil {
		return nil, nil, err
	}
	if customCfg, err = parse(); err != nil {
		return nil, nil, err
	}
	endpoints := map[string]string{fake.KindDepartment: "/departments", fake.KindPerson: "/persons"}
	for i := range customCfg.Resources {
		r := &customCfg.Resources[i]
		r.Kind = endpoints[r.Kind]
		raw := map[string]any{"data_path": ".items"}
		for k, v := range r.Selector.Raw {
			raw[k] = v
		}
		r.Selector.Raw = raw
	}
	for _, c := range []*mapping.Config{fakeCfg, customCfg} {
		if _, err := mapping.Compile(c, mapping.Options{}); err != nil {
			return nil, nil, err
		}
	}
	return fakeCfg, customCfg, nil
}

// installSourceBench creates the fake department and person blueprints
// and both integrations with their mappings, as a user would in Port
// before starting oceand: the daemons install no defaults.
func (h *benchHarness) installSourceBench(fakeCfg, customCfg *mapping.Config) error {
	client := func(typ, identifier string) (*port.Client, error) {
		return port.New(port.Config{BaseURL: h.portURL, ClientID: benchClientID, ClientSecret: h.secret,
			IntegrationType: typ, IntegrationVersion: buildinfo.Version, IntegrationIdentifier: identifier})
	}
	fc, err := client(fake.Type, benchFakeIdentifier)
	if err != nil {
		return err
	}
	var bps []port.Blueprint
	if err := json.Unmarshal(fake.Definition().Defaults.Blueprints, &bps); err != nil {
		return fmt.Errorf("fake blueprints: %w", err)
	}
	byID := map[string]port.Blueprint{}
	for _, bp := range bps {
		byID[bp.Identifier()] = bp
	}
	// The department first: persons relate to it.
	for _, id := range []string{fake.KindDepartment, fake.KindPerson} {
		bp, ok := byID[id]
		if !ok {
			return fmt.Errorf("the fake source has no blueprint %s", id)
		}
		if _, err := fc.CreateBlueprint(h.ctx, bp); err != nil {
			return fmt.Errorf("create blueprint %s: %w", id, err)
		}
	}
	cc, err := client(custom.Type, benchCustomIdentifier)
	if err != nil {
		return err
	}
	for _, in := range []struct {
		c   *port.Client
		typ string
		cfg *mapping.Config
	}{{fc, fake.Type, fakeCfg}, {cc, custom.Type, customCfg}} {
		if _, err := in.c.CreateIntegration(h.ctx, map[string]any{
			"installationAppType":         in.typ,
			"version":                     buildinfo.Version,
			"changelogDestination":        map[string]any{},
			"config":                      in.cfg,
			"createPortResourcesOrigin":   "Empty",
			"arePortResourcesInitialized": true,
		}); err != nil {
			return fmt.Errorf("create integration %s: %w", in.typ, err)
		}
	}
	return nil
}

// benchAPI serves the fake source's department and persons as a REST API
// on a loopback port, every page encoded before the phases start, so that
// serving costs next to nothing (a fast API):
//
//	GET /departments             {"items":[...],"has_more":false}
//	GET /persons?page=N&size=100 {"items":[...],"has_more":true|false}
type benchAPI struct {
	departments []byte
	// persons[i] is page i+1.
	persons  [][]byte
	requests atomic.Int64
	srv      *http.Server
	ln       net.Listener
	done     chan error
}

type benchPage struct {
	Items   []map[string]any `json:"items"`
	HasMore bool             `json:"has_more"`
}

// newBenchAPI generates the items with the fake source's own Fetch (seed
// 1, one department, pages of sourcePageSize), the same the fake phases
// resync.
func newBenchAPI(ctx context.Context, persons, kb int) (*benchAPI, error) {
	src := fake.New(fake.Settings{EntityAmount: persons, EntityKBSize: kb, ThirdPartyBatchSize: sourcePageSize, SingleDepartmentRun: true, Seed: 1})
	api := &benchAPI{}
	var depts []map[string]any
	if err := src.Fetch(ctx, sources.Resource{Kind: fake.KindDepartment}, func(items []map[string]any) error {
		depts = append(depts, items...)
		return nil
	}); err != nil {
		return nil, err
	}
	b, err := json.Marshal(benchPage{Items: depts})
	if err != nil {
		return nil, err
	}
	api.departments = b
	seen := 0
	err = src.Fetch(ctx, sources.Resource{Kind: fake.KindPerson, Index: 1}, func(items []map[string]any) error {
		seen += len(items)
		b, err := json.Marshal(benchPage{Items: items, HasMore: seen < persons})
		if err != nil {
			return err
		}
		api.persons = append(api.persons, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api, nil
}

func (api *benchAPI) start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /departments", func(w http.ResponseWriter, r *http.Request) {
		api.requests.Add(1)
		writePage(w, api.departments)
	})
	mux.HandleFunc("GET /persons", func(w http.ResponseWriter, r *http.Request) {
		api.requests.Add(1)
		q := r.URL.Query()
		page, err := strconv.Atoi(q.Get("page"))
		if err != nil || page < 1 {
			http.Error(w, fmt.Sprintf("page %q: want an integer from 1", q.Get("page")), http.StatusBadRequest)
			return
		}
		if q.Get("size") != strconv.Itoa(sourcePageSize) {
			http.Error(w, fmt.Sprintf("size %q: this API serves pages of %d", q.Get("size"), sourcePageSize), http.StatusBadRequest)
			return
		}
		if page > len(api.persons) {
			writePage(w, []byte(`{"items":[],"has_more":false}`))
			return
		}
		writePage(w, api.persons[page-1])
	})
	api.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	api.ln = ln
	api.done = make(chan error, 1)
	go func() { api.done <- api.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

func writePage(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// A failed write is the daemon gone away: its resync reports that.
	w.Write(body)
}

func (api *benchAPI) close() error {
	if api.srv == nil {
		return nil
	}
	err := api.srv.Close()
	if serr := <-api.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func writeSourceBench(w io.Writer, r *sourceBenchResult) {
	fmt.Fprintf(w, "oceand bench --source %s: %d persons of %d KiB (%d entities) in pages of %d, %d rounds\n", r.Source, r.Persons, r.KB, r.Entities, r.PageSize, r.Rounds)
	fmt.Fprintf(w, "the same items from the fake source and from a loopback API in this process (paginationType page, data_path .items)\n\n")
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUND\tSOURCE\tPHASE\tSECONDS\tUPSERTS\tAPI REQUESTS\tPORT REQUESTS\tPEAK RSS\tCPU S (DAEMON/BENCH PROCESS)")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%d\t%d\t%d\t%s\t%.2f / %.2f\n", run.Round, run.Source, phaseLabel(run.Phase), run.Seconds, run.Upserted,
			run.APIRequests, run.PortRequests, mb(run.PeakRSSBytes), run.CPUSeconds.Daemon, run.CPUSeconds.Emulator)
	}
	tw.Flush()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MEDIAN\tFAKE\tCUSTOM\tCUSTOM / FAKE\tTARGET")
	fmt.Fprintf(tw, "full resync\t%.2f s\t%.2f s\t%.2f\t<= 1.3: %s\n", r.Fake.FullSeconds, r.Custom.FullSeconds, r.FullRatio, verdict(r.FullRatio <= 1.3))
	fmt.Fprintf(tw, "daemon peak RSS\t%s\t%s\t%.2f\t<= 1.2: %s\n", mb(r.Fake.PeakRSSBytes), mb(r.Custom.PeakRSSBytes), r.PeakRSSRatio, verdict(r.PeakRSSRatio <= 1.2))
	fmt.Fprintf(tw, "daemon CPU, full\t%.2f s\t%.2f s\t%.2f\t\n", r.Fake.FullDaemonCPU, r.Custom.FullDaemonCPU, r.DaemonCPURatio)
	fmt.Fprintf(tw, "no change\t%.2f s\t%.2f s\t\t\n", r.Fake.NoChangeSeconds, r.Custom.NoChangeSeconds)
	fmt.Fprintf(tw, "no-change upserts (most)\t%d\t%d\t\t0: %s\n", r.Fake.NoChangeUpserts, r.Custom.NoChangeUpserts, verdict(r.Custom.NoChangeUpserts == 0))
	tw.Flush()
}
