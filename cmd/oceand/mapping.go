package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"oceand/internal/yamlsafe"
	"oceand/mapping"
)

func (a *app) mappingCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Work with mappings (port app configs) offline",
	}
	cmd.AddCommand(a.mappingTestCommand())
	return groupCommand(cmd)
}

// mappingTestOptions are the flags of `oceand mapping test`.
type mappingTestOptions struct {
	mappingFile string
	kind        string
	inputFile   string
	asJSON      bool
	jqEnv       []string
	timeout     time.Duration
	memoryMiB   int64
}

func (a *app) mappingTestCommand() *cobra.Command {
	var o mappingTestOptions
	cmd := &cobra.Command{
		Use:   "test --mapping FILE [--kind KIND] --input FILE.json",
		Short: "Show the entities a mapping makes from sample items",
		Long: `test maps sample items with a mapping, offline, exactly as a resync would, and
prints each item's entities, the fields that came out null because their jq
failed or gave nothing (misconfigurations), and the items the mapping could
not judge.

The mapping is a port-app-config file, YAML or JSON. The input is a JSON
array of items, one item, or several JSON values one after another (JSON
lines); "-" reads stdin. Items are mapped with every resource of --kind,
which may be left out when the mapping has one kind.

The exit code is 2 when the mapping does not parse or compile (every error
is listed with its file:line:column) or the input cannot be read, else 0.`,
		Example: `  oceand mapping test --mapping .port/resources/port-app-config.yml --kind fake-person --input persons.json
  curl -s https://api.example.com/users | oceand mapping test --mapping mapping.yml --input - --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.mappingTest(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mappingFile, "mapping", "", "the mapping file (port-app-config.yml or .json)")
	f.StringVar(&o.kind, "kind", "", "map the items with the resources of this kind")
	f.StringVar(&o.inputFile, "input", "", `the sample items: a JSON file, or "-" for stdin`)
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.StringSliceVar(&o.jqEnv, "jq-env", nil, "environment variables jq's env and $ENV may read (setting jqEnvAllowList; default none)")
	f.DurationVar(&o.timeout, "timeout", mapping.DefaultItemTimeout, "time limit for the jq programs of one item")
	f.Int64Var(&o.memoryMiB, "memory-budget", 0, "MiB of heap past which running jq programs are stopped and their items fail (default: half the memory limit, or 512)")
	_ = cmd.MarkFlagRequired("mapping")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

func (a *app) mappingTest(cmd *cobra.Command, o mappingTestOptions) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	src, err := yamlsafe.ReadFile(o.mappingFile, yamlsafe.Limits{})
	var tooLarge *yamlsafe.Error
	if errors.As(err, &tooLarge) {
		return usageError{fmt.Errorf("%s: %s", o.mappingFile, tooLarge.Message)}
	}
	if err != nil {
		return usageError{fmt.Errorf("read the mapping: %w", err)}
	}
	cfg, err := mapping.ParseFile(o.mappingFile, src)
	if err != nil {
		return mappingProblems(errOut, err)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(errOut, "warning: "+w.String())
	}
	m, err := mapping.Compile(cfg, mapping.Options{EnvAllowList: o.jqEnv, LookupEnv: a.lookupEnv, ItemTimeout: o.timeout, MemoryBudget: o.memoryMiB << 20})
	if err != nil {
		return mappingProblems(errOut, err)
	}
	kind, err := chooseKind(cfg, o.kind)
	if err != nil {
		return usageError{err}
	}
	items, err := a.readItems(cmd, o.inputFile)
	if err != nil {
		return usageError{err}
	}
	trial, err := m.Try(cmd.Context(), kind, items)
	if err != nil {
		return err
	}
	if o.asJSON {
		warnings := cfg.Warnings()
		if warnings == nil {
			warnings = []mapping.Problem{}
		}
		b, err := json.MarshalIndent(struct {
			Warnings []mapping.Problem `json:"warnings"`
			mapping.Trial
		}{warnings, trial}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	}
	return writeTrial(out, trial)
}

// mappingProblems lists a mapping's parse or compile errors, each compile
// error with the expression and a caret under the problem.
func mappingProblems(w io.Writer, err error) error {
	var pe *mapping.ParseError
	var lines []string
	n := 0
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			lines = append(lines, p.String())
		}
		n = len(pe.Problems)
	} else {
		var joined interface{ Unwrap() []error }
		errs := []error{err}
		if errors.As(err, &joined) {
			errs = joined.Unwrap()
		}
		n = len(errs)
		for _, e := range errs {
			lines = append(lines, e.Error())
			var ce *mapping.CompileError
			if errors.As(e, &ce) {
				if c := ce.Caret(); c != "" {
					lines = append(lines, indent(c, "    "))
				}
			}
		}
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
	return exitError{code: exitUsage, err: fmt.Errorf("the mapping has %s", plural(n, "error"))}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// chooseKind checks --kind against the mapping; without it, the mapping
// must have one kind.
func chooseKind(cfg *mapping.Config, kind string) (string, error) {
	var kinds []string
	for _, r := range cfg.Resources {
		if !slices.Contains(kinds, r.Kind) {
			kinds = append(kinds, r.Kind)
		}
	}
	switch {
	case len(kinds) == 0:
		return "", errors.New("the mapping has no resources")
	case kind == "" && len(kinds) > 1:
		return "", fmt.Errorf("the mapping has kinds %s: choose one with --kind", strings.Join(kinds, ", "))
	case kind == "":
		return kinds[0], nil
	case !slices.Contains(kinds, kind):
		return "", fmt.Errorf("--kind %s: the mapping has no such kind (it has %s)", kind, strings.Join(kinds, ", "))
	}
	return kind, nil
}

// readItems reads sample items: JSON values one after another, each an
// item or a list of items. Numbers are kept exact.
func (a *app) readItems(cmd *cobra.Command, file string) ([]any, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read the input: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var items []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the input %s: %w (expected JSON: an item, a list of items, or JSON lines)", file, err)
		}
		if list, ok := v.([]any); ok {
			items = append(items, list...)
		} else {
			items = append(items, v)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("the input %s holds no items", file)
	}
	return items, nil
}

// lookupEnv reads the command's environment (not the process's), so jq
// sees what the caller passed.
func (a *app) lookupEnv(name string) (string, bool) {
	for _, kv := range a.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// writeTrial prints a trial for people: per resource, each item's entities
// as JSON and its problems, then the totals.
func writeTrial(w io.Writer, t mapping.Trial) error {
	var b strings.Builder
	for _, rt := range t.Resources {
		fmt.Fprintf(&b, "== %s: resources[%d], kind %s\n", rt.KindID, rt.Index, rt.Kind)
		for _, it := range rt.Items {
			fmt.Fprintf(&b, "-- item %d: %s\n", it.Item, itemSummary(it))
			for _, mc := range it.Misconfigurations {
				fmt.Fprintf(&b, "   null: %s (%s): %s\n", mc.Field, mc.Expr, mc.Reason)
			}
			for _, e := range it.Entities {
				js, err := json.MarshalIndent(e, "", "  ")
				if err != nil {
					return err
				}
				b.Write(js)
				b.WriteByte('\n')
			}
		}
		tt := rt.Totals
		fmt.Fprintf(&b, "== %s: %s, %s, %d filtered, %d dropped, %d skipped, %d failed, %s\n\n", rt.KindID,
			plural(tt.Items, "item"), entities(tt.Entities), tt.Filtered, tt.Dropped, tt.Skipped, tt.Failed,
			plural(tt.Misconfigurations, "misconfiguration"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func itemSummary(it mapping.ItemTrial) string {
	var parts []string
	if it.Error != "" {
		parts = append(parts, "failed: "+it.Error)
	}
	if n := len(it.Entities); n > 0 || (it.Error == "" && it.Filtered == 0 && it.Dropped == 0 && it.Skipped == 0) {
		parts = append(parts, entities(n))
	}
	if it.Filtered > 0 {
		parts = append(parts, fmt.Sprintf("%d filtered out by the selector", it.Filtered))
	}
	if it.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped (no valid identifier or blueprint)", it.Dropped))
	}
	if it.Skipped > 0 && it.Error == "" {
		parts = append(parts, "skipped (itemsToParse gave no list)")
	}
	if n := len(it.Misconfigurations); n > 0 {
		parts = append(parts, plural(n, "misconfiguration"))
	}
	return strings.Join(parts, ", ")
}

func entities(n int) string {
	if n == 1 {
		return "1 entity"
	}
	return fmt.Sprintf("%d entities", n)
}
