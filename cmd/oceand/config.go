package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

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
	var asJSON, wide bool
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Show every effective setting and where it came from",
		Long: `print shows each setting's effective value and its source: default, the file
with line and column, the environment variable or flag. Sensitive values are
shown as [REDACTED]. Settings oceand accepts for compatibility with Ocean but
does not act on are marked ignored. The table fits 120 columns: long values
are cut with "…" (--wide prints them whole), other columns wrap. Problems, if any, go to stderr and the exit
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
			} else if err := a.writeEntries(out, entries, wide); err != nil {
				return err
			}
			if len(problems) > 0 {
				a.writeProblems(cmd.ErrOrStderr(), problems, warnings)
				return exitError{code: exitUsage, err: fmt.Errorf("%s in the settings", plural(len(problems), "problem"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {key, value, source, ignored, sensitive}")
	cmd.Flags().BoolVar(&wide, "wide", false, fmt.Sprintf("print long values whole instead of fitting %d columns", screenWidth))
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

// writeEntries prints the settings table, fitted to screenWidth unless
// wide.
func (a *app) writeEntries(w io.Writer, entries []config.Entry, wide bool) error {
	rows := [][]string{{"SETTING", "VALUE", "SOURCE", "NOTE"}}
	for _, e := range entries {
		note := ""
		if e.Ignored != "" {
			note = "ignored: " + e.Ignored
		}
		row := []string{e.Key, displayValue(e.Value), e.Source.String(), note}
		for i := range row {
			row[i] = a.redactor.String(row[i])
		}
		rows = append(rows, row)
	}
	width := screenWidth
	if wide {
		width = 0
	}
	// Values are cut (Kafka's brokers alone are 360 columns); sources,
	// keys and notes wrap, so none is lost.
	cut, err := writeTable(w, rows, width, shrink{col: 1, min: 24}, shrink{col: 2, min: 26, wrap: true},
		shrink{col: 0, min: 40, wrap: true}, shrink{col: 3, min: 20, wrap: true})
	if err != nil {
		return err
	}
	if cut {
		_, err = fmt.Fprintf(w, "\n(cut to %d columns: --wide shows every value whole, --json as data)\n", screenWidth)
	}
	return err
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
