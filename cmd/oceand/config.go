package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"oceand/config"
	"oceand/daemon"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check or show the effective settings",
		Long: `Settings come from flags, OCEAN__ variables, .env, config.yaml (or --config) and
defaults, in that order of precedence, as Ocean reads them.`,
	}
	cmd.AddCommand(a.configValidateCommand(), a.configPrintCommand())
	return groupCommand(cmd)
}

func (a *app) configValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "List every problem in the settings; exit 0 only when there is none",
		Long: `validate runs every check a start runs, the source's spec included, and lists
each problem with the setting and where it was written (file:line:column, env
variable or flag), then the warnings. It exits 0 when there is no problem
(warnings alone do not fail), 2 otherwise. Secrets are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, problems, warnings := a.inspectSettings()
			out := cmd.OutOrStdout()
			a.writeProblems(out, problems, warnings)
			if len(problems) > 0 {
				return exitError{code: exitUsage, err: fmt.Errorf("%s in the settings", plural(len(problems), "problem"))}
			}
			msg := "settings are valid"
			if len(warnings) > 0 {
				msg += " (" + plural(len(warnings), "warning") + ")"
			}
			fmt.Fprintln(out, msg)
			return nil
		},
	}
}

func (a *app) configPrintCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Show every effective setting and where it came from",
		Long: `print shows each setting's effective value and its source: default, the file
with line and column, the environment variable or flag. Sensitive values are
shown as [REDACTED]. Settings oceand accepts for compatibility with Ocean but
does not act on are marked ignored. Problems, if any, go to stderr and the exit
code is 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, problems, warnings := a.inspectSettings()
			out := cmd.OutOrStdout()
			entries := s.Entries()
			if asJSON {
				b, err := json.MarshalIndent(entries, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, a.redactor.String(string(b)))
			} else {
				a.writeEntries(out, entries)
			}
			if len(problems) > 0 {
				a.writeProblems(cmd.ErrOrStderr(), problems, warnings)
				return exitError{code: exitUsage, err: fmt.Errorf("%s in the settings", plural(len(problems), "problem"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {key, value, source, ignored, sensitive}")
	return cmd
}

// inspectSettings loads the settings as a start does and runs every
// check a start runs (daemon.CheckSettings), collecting all problems
// instead of stopping at the first.
func (a *app) inspectSettings() (*config.Settings, []config.Problem, []config.Problem) {
	s, err := config.Read(a.loadOptions())
	a.redactor.Add(s.Secrets()...)
	problems := config.ProblemsOf(err)
	problems = append(problems, daemon.CheckSettings(s, nil)...)
	a.redactor.Add(s.Secrets()...)
	return s, problems, s.Warnings()
}

func (a *app) writeProblems(w io.Writer, problems, warnings []config.Problem) {
	for _, p := range problems {
		fmt.Fprintln(w, a.redactor.String(p.String()))
	}
	for _, p := range warnings {
		fmt.Fprintln(w, "warning: "+a.redactor.String(p.String()))
	}
}

func (a *app) writeEntries(w io.Writer, entries []config.Entry) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE\tNOTE")
	for _, e := range entries {
		note := ""
		if e.Ignored != "" {
			note = "ignored: " + e.Ignored
		}
		line := strings.Join([]string{e.Key, displayValue(e.Value), e.Source.String(), note}, "\t")
		fmt.Fprintln(tw, a.redactor.String(line))
	}
	tw.Flush()
}

// displayValue shows a value on one line: strings as they are (empty ones
// as ""), anything else as JSON.
func displayValue(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return `""`
		}
		return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
