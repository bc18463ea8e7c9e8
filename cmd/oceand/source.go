package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"oceand/buildinfo"
	"oceand/config"
	"oceand/daemon"
	"oceand/mapping"
	"oceand/port"
	"oceand/sources"
)

func (a *app) sourceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source",
		Short: "Work with the integration's source (the third-party system)",
	}
	cmd.AddCommand(a.sourceTestCommand())
	return cmd
}

// sourceTestOptions are the flags of `oceand source test`.
type sourceTestOptions struct {
	kind        string
	pages       int
	mappingFile string
	fromPort    bool
	asJSON      bool
}

func (a *app) sourceTestCommand() *cobra.Command {
	var o sourceTestOptions
	cmd := &cobra.Command{
		Use:   "test [--kind KIND] [--pages N] [--mapping FILE | --from-port] [--json]",
		Short: "Fetch the first pages of each kind from the real source and map them",
		Long: `test fetches the first pages of every resource of the mapping (or of --kind)
from the third-party system, with the settings and auth a resync uses, and
prints the raw items and the entities the mapping makes of them. It writes
nothing: neither Port nor the state directory is touched, so it is safe to
run beside a running daemon.

The mapping is --mapping (a port-app-config file, YAML or JSON), or with
--from-port the integration's mapping stored in Port (read, never
written), or else the source's default mapping. Tokens and secrets are
redacted.

The exit code is 0 when every fetched resource answered, 1 when one failed
(its error is printed), 2 for bad settings, flags or mapping.`,
		Example: `  oceand source test --mapping mapping.yml --kind /api/v1/users --pages 1
  oceand source test --from-port --kind /api/v1/users
  oceand source test --json | jq '.resources[0].items[0]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.sourceTest(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kind, "kind", "", "only the resources of this kind")
	f.IntVar(&o.pages, "pages", 1, "pages to fetch per resource")
	f.StringVar(&o.mappingFile, "mapping", "", "the mapping file (default: the source's default mapping)")
	f.BoolVar(&o.fromPort, "from-port", false, "use the integration's mapping stored in Port")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return cmd
}

// sourceTrial is what `source test` found for one resource.
type sourceTrial struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	KindID string `json:"kindId"`
	Pages  int    `json:"pages"`
	// More is true when the source had pages past the ones fetched.
	More  bool                  `json:"more"`
	Error string                `json:"error,omitempty"`
	Items []map[string]any      `json:"items"`
	Trial mapping.ResourceTrial `json:"mapping"`
}

// errEnoughPages stops a fetch once the pages asked for are in.
var errEnoughPages = errors.New("enough pages")

func (a *app) sourceTest(cmd *cobra.Command, o sourceTestOptions) error {
	if o.pages < 1 {
		return usageError{fmt.Errorf("--pages %d: must be at least 1", o.pages)}
	}
	if o.fromPort && o.mappingFile != "" {
		return usageError{errors.New("--mapping and --from-port: give one of them")}
	}
	s, err := a.loadSettings()
	if err != nil {
		return err
	}
	def, err := daemon.Builtin().Lookup(s.Integration.Type)
	if err != nil {
		return usageError{err}
	}
	if err := s.ApplySpec(def.Defaults.Spec); err != nil {
		return usageError{err}
	}
	a.redactor.Add(s.Secrets()...)
	logger, err := a.logger(s)
	if err != nil {
		return err
	}
	name, data := "the source's default mapping", def.Defaults.PortAppConfig
	switch {
	case o.mappingFile != "":
		if data, err = os.ReadFile(o.mappingFile); err != nil {
			return usageError{fmt.Errorf("read the mapping: %w", err)}
		}
		name = o.mappingFile
	case o.fromPort:
		if data, err = portMapping(cmd.Context(), s); err != nil {
			return err
		}
		name = "the mapping of integration " + s.Integration.Identifier + " in Port"
	}
	m, err := a.sourceTestMapping(cmd.ErrOrStderr(), name, o.mappingFile, data, s.JQEnvAllowList)
	if err != nil {
		return err
	}
	// The source may spool (an endpoint cache): a scratch directory, not
	// the daemon's state directory, which a running daemon owns.
	scratch, err := os.MkdirTemp("", "oceand-source-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	src, err := def.New(s.Integration.Config, sources.Env{
		Logger: logger.With("component", "source"), StateDir: scratch, AddSecrets: a.redactor.Add,
	})
	if err != nil {
		if !strings.HasPrefix(err.Error(), "integration.config:") {
			err = fmt.Errorf("integration.config: %w", err)
		}
		return usageError{err}
	}
	var resources []sources.Resource
	var mappers []*mapping.ResourceMapper
	for _, rm := range m.Resources() {
		if o.kind != "" && rm.Resource.Kind != o.kind {
			continue
		}
		resources = append(resources, sources.Resource{Kind: rm.Resource.Kind, Index: rm.Index, Selector: rm.Resource.Selector.Raw})
		mappers = append(mappers, rm)
	}
	if len(resources) == 0 {
		return usageError{fmt.Errorf("--kind %s: the mapping has no such kind", o.kind)}
	}
	ctx := cmd.Context()
	if scoped, ok := src.(sources.ResyncScoped); ok {
		if err := scoped.BeginResync(ctx, resources); err != nil {
			return fmt.Errorf("prepare the source: %w", err)
		}
		defer func() {
			if eerr := scoped.EndResync(); eerr != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: release the source: "+a.redactor.String(eerr.Error()))
			}
		}()
	}
	trials := make([]sourceTrial, len(resources))
	failed := 0
	for i, res := range resources {
		t := sourceTrial{Index: res.Index, Kind: res.Kind, KindID: mappers[i].KindID(), Items: []map[string]any{}}
		ferr := src.Fetch(ctx, res, func(items []map[string]any) error {
			if t.Pages == o.pages {
				t.More = true
				return errEnoughPages
			}
			t.Pages++
			t.Items = append(t.Items, items...)
			return nil
		})
		if ferr != nil && !errors.Is(ferr, errEnoughPages) {
			if ctx.Err() != nil {
				return ferr
			}
			t.Error = a.redactor.String(ferr.Error())
			failed++
		}
		asAny := make([]any, len(t.Items))
		for j, it := range t.Items {
			asAny[j] = it
		}
		if t.Trial, err = mappers[i].Try(ctx, asAny); err != nil {
			return err
		}
		trials[i] = t
	}
	if err := a.writeSourceTrials(cmd.OutOrStdout(), trials, o.asJSON); err != nil {
		return err
	}
	if failed > 0 {
		return exitError{code: exitFailure, err: fmt.Errorf("%s of %d failed", plural(failed, "resource"), len(trials))}
	}
	return nil
}

// portMapping reads the integration's mapping from Port, as a resync
// would; nothing is written.
func portMapping(ctx context.Context, s *config.Settings) ([]byte, error) {
	pc, err := port.New(port.Config{
		BaseURL: s.Port.BaseURL, ClientID: s.Port.ClientID, ClientSecret: s.Port.ClientSecret,
		IntegrationType: s.Integration.Type, IntegrationVersion: buildinfo.Version, IntegrationIdentifier: s.Integration.Identifier,
	})
	if err != nil {
		return nil, usageError{err}
	}
	integ, err := pc.GetIntegration(ctx)
	if err != nil {
		return nil, fmt.Errorf("--from-port: read integration %s: %w", s.Integration.Identifier, err)
	}
	if !integ.HasConfig() {
		return nil, usageError{fmt.Errorf("--from-port: integration %s has no mapping in Port", s.Integration.Identifier)}
	}
	return integ.Config, nil
}

// sourceTestMapping compiles the mapping data read from name (file, when
// it is a file).
func (a *app) sourceTestMapping(errOut io.Writer, name, file string, data []byte, jqEnv []string) (*mapping.Mapping, error) {
	cfg, err := mapping.ParseFile(file, data)
	if err != nil {
		fmt.Fprintln(errOut, name+":")
		return nil, mappingProblems(errOut, err)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(errOut, "warning: "+w.String())
	}
	m, err := mapping.Compile(cfg, mapping.Options{EnvAllowList: jqEnv, LookupEnv: a.lookupEnv})
	if err != nil {
		return nil, mappingProblems(errOut, err)
	}
	if len(m.Resources()) == 0 {
		return nil, usageError{fmt.Errorf("%s has no resources: give --mapping FILE, or --from-port for the integration's mapping in Port", name)}
	}
	return m, nil
}

// writeSourceTrials prints the trials, redacted: as JSON, or per resource
// each raw item (one JSON line) followed by what the mapping made of it.
func (a *app) writeSourceTrials(w io.Writer, trials []sourceTrial, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(struct {
			Resources []sourceTrial `json:"resources"`
		}{trials}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, a.redactor.String(string(b)))
		return err
	}
	var b strings.Builder
	for _, t := range trials {
		more := ""
		if t.More {
			more = "; more pages not fetched"
		}
		fmt.Fprintf(&b, "== %s: resources[%d], kind %s: %s in %s%s\n", t.KindID, t.Index, t.Kind,
			plural(len(t.Items), "item"), plural(t.Pages, "page"), more)
		if t.Error != "" {
			fmt.Fprintf(&b, "!! fetch failed: %s\n", t.Error)
		}
		for j, it := range t.Trial.Items {
			raw, err := json.Marshal(t.Items[j])
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "-- item %d: %s\n   raw: %s\n", it.Item, itemSummary(it), raw)
			for _, mc := range it.Misconfigurations {
				fmt.Fprintf(&b, "   null: %s (%s): %s\n", mc.Field, mc.Expr, mc.Reason)
			}
			for _, e := range it.Entities {
				js, err := json.Marshal(e)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "   entity: %s\n", js)
			}
		}
		tt := t.Trial.Totals
		fmt.Fprintf(&b, "== %s: %s, %s, %d filtered, %d dropped, %d failed, %s\n\n", t.KindID,
			plural(tt.Items, "item"), entities(tt.Entities), tt.Filtered, tt.Dropped, tt.Failed,
			plural(tt.Misconfigurations, "misconfiguration"))
	}
	_, err := io.WriteString(w, a.redactor.String(b.String()))
	return err
}
