package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"oceand/logging"
	"oceand/port/emulator"
)

func (a *app) portEmulatorCommand() *cobra.Command {
	var (
		addr, clientID, clientSecret, stateFile string
		rateLimit                               int
		ratePeriod                              int
		tokenTTL                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "port-emulator",
		Short: "Serve an in-memory Port API, to try a mapping without a Port account",
		Long: `port-emulator serves the Port REST API an integration uses (auth, integration,
blueprints, entities, search, datasource listing) from memory, with Port's validation
rules, and prints the URL it listens on. Point a daemon at it with
OCEAN__PORT__BASE_URL=<url> and the same client id and secret.

--rate-limit enables Port's rate limiting (requests per --rate-period seconds, with
x-ratelimit-* headers and 429 answers). --state keeps the emulated Port across restarts:
loaded at start, written on exit.

What a daemon sends for Port's UI is kept and shown without a token at
<url>/_emulator/integrations/<identifier>/examples, .../logs, .../sync-metrics and
.../heartbeats.

The client id and secret default to OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" {
				clientID = envValue(a.environ, "OCEAN__PORT__CLIENT_ID")
			}
			if clientSecret == "" {
				clientSecret = envValue(a.environ, "OCEAN__PORT__CLIENT_SECRET")
			}
			if clientID == "" || clientSecret == "" {
				return usageError{errors.New("--client-id and --client-secret are required (or OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET)")}
			}
			if rateLimit < 0 || ratePeriod < 1 {
				return usageError{fmt.Errorf("--rate-limit must be 0 (off) or more and --rate-period at least 1 second, got %d and %d", rateLimit, ratePeriod)}
			}
			if tokenTTL < time.Second {
				return usageError{fmt.Errorf("--token-ttl must be at least 1s, got %s", tokenTTL)}
			}
			a.redactor.Add(clientSecret)
			logger, err := logging.New(a.stderr, logging.Options{Format: a.logFormat, Level: a.logLevel, Redactor: a.redactor, NoColor: a.noColor()})
			if err != nil {
				return usageError{err}
			}
			emu := emulator.New(emulator.Config{
				ClientID: clientID, ClientSecret: clientSecret, TokenTTL: tokenTTL,
				RateLimit: emulator.RateLimit{Limit: rateLimit, Period: time.Duration(ratePeriod) * time.Second},
				Logger:    logger,
			})
			if stateFile != "" {
				if err := emu.LoadFile(stateFile); err != nil {
					return err
				}
			}
			url, err := emu.Start(addr)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), url)
			logger.Info("Port emulator listening", "url", url, "rate_limit", rateLimit, "rate_period_s", ratePeriod, "state", stateFile)
			<-cmd.Context().Done()
			err = emu.Close()
			if stateFile != "" {
				if serr := emu.SaveFile(stateFile); serr != nil {
					return serr
				}
				logger.Info("Port emulator state saved", "state", stateFile)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5555", "address to listen on")
	f.StringVar(&clientID, "client-id", "", "the only client id accepted")
	f.StringVar(&clientSecret, "client-secret", "", "the only client secret accepted")
	f.IntVar(&rateLimit, "rate-limit", 0, "requests allowed per --rate-period (0: no limit)")
	f.IntVar(&ratePeriod, "rate-period", 300, "rate-limit window in seconds")
	f.DurationVar(&tokenTTL, "token-ttl", 3*time.Hour, "lifetime of access tokens")
	f.StringVar(&stateFile, "state", "", "JSON file to load the emulated Port from and save it to on exit")
	return cmd
}

// envValue is the value of variable name in environ ("" when unset).
func envValue(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
