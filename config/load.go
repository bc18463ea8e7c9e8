package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"oceand/internal/yamlsafe"
)

// LoadOptions say where settings come from.
type LoadOptions struct {
	// Dir is where config.yaml and .env are looked up. Default: the
	// working directory.
	Dir string
	// ConfigFile overrides the config.yaml path; if set it must exist.
	ConfigFile string
	// Environ is the process environment (os.Environ()).
	Environ []string
	// Flags are command-line settings: dotted snake_case paths to values,
	// e.g. "state_dir" or "port.base_url". An object or list setting
	// takes JSON ("integration.config": `{"entity_amount": 5}`).
	Flags map[string]string
}

// inputs are the raw inputs of one load, read from disk by Read and
// given directly by tests and the fuzzer.
type inputs struct {
	configFile string // display path of config.yaml
	config     []byte // nil: no file
	dotenvFile string
	dotenv     []byte // nil: no file
	environ    []string
	flags      map[string]string
}

// meta is what loading learnt beyond the values: where each came from,
// what failed, what to warn about.
type meta struct {
	schema *schema
	// origins holds the origin of every value set, by snake_case path
	// (list items as path[i]).
	origins map[string]Origin
	// failed holds paths whose value could not be decoded.
	failed   map[string]bool
	notes    []templateNote
	warnings []Problem
	// spec is the applied integration spec, nil before ApplySpec.
	spec         *spec
	specWarnings []Problem
}

type loader struct {
	schema   *schema
	env      map[string]string
	dotenv   map[string]string
	defaults *value
	meta     *meta
	problems []Problem
}

// Load builds the effective settings from all sources; any error in them
// is a *ValidationError listing every problem. Warnings are kept for
// Settings.Warnings.
func Load(opts LoadOptions) (*Settings, error) {
	s, err := Read(opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Read is Load that also returns the settings when some are wrong: a
// value that could not be used keeps its default. `oceand config
// validate` and `config print` use it to show everything at once.
func Read(opts LoadOptions) (*Settings, error) {
	src := inputs{environ: opts.Environ, flags: opts.Flags}
	var problems []Problem
	src.configFile = opts.ConfigFile
	if src.configFile == "" {
		src.configFile = filepath.Join(opts.Dir, "config.yaml")
	}
	data, err := yamlsafe.ReadFile(src.configFile, yamlsafe.Limits{})
	var tooLarge *yamlsafe.Error
	switch {
	case err == nil:
		src.config = data
	case errors.Is(err, fs.ErrNotExist) && opts.ConfigFile == "":
	case errors.As(err, &tooLarge):
		problems = append(problems, Problem{Origin: Origin{Kind: FromFile, File: src.configFile}, Message: tooLarge.Message})
	default:
		problems = append(problems, Problem{Message: fmt.Sprintf("read %s: %v", src.configFile, unwrapPathError(err))})
	}
	src.dotenvFile = filepath.Join(opts.Dir, ".env")
	data, err = os.ReadFile(src.dotenvFile)
	switch {
	case err == nil:
		src.dotenv = data
	case errors.Is(err, fs.ErrNotExist):
	default:
		problems = append(problems, Problem{Message: fmt.Sprintf("read %s: %v", src.dotenvFile, unwrapPathError(err))})
	}
	s, loadProblems := load(src)
	problems = append(problems, loadProblems...)
	return s, errorOf(problems)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// load merges the sources, lowest precedence first: defaults,
// config.yaml, .env, the environment, flags. It returns the settings and
// the errors; warnings go to the settings' meta.
func load(src inputs) (*Settings, []Problem) {
	sc := newSchema()
	l := &loader{
		schema:   sc,
		env:      envMap(src.environ),
		dotenv:   map[string]string{},
		defaults: defaultNode(sc.root),
		meta:     &meta{schema: sc, origins: map[string]Origin{}, failed: map[string]bool{}},
	}
	tree := defaultNode(sc.root)

	if len(bytes.TrimSpace(src.config)) > 0 {
		fileTree, problems := readYAML(src.config, src.configFile)
		l.add(problems...)
		l.normalizeKeys(fileTree, sc.root)
		tree = merge(tree, fileTree)
	}

	var dotenvVars []envVar
	if src.dotenv != nil {
		var problems []Problem
		dotenvVars, problems = parseDotEnv(src.dotenv, src.dotenvFile, l.env)
		l.add(problems...)
		for _, v := range dotenvVars {
			l.dotenv[v.name] = v.value
		}
	}
	tree = merge(tree, l.envLayer(dotenvVars))

	envVars := make([]envVar, 0, len(src.environ))
	for _, kv := range src.environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envVars = append(envVars, envVar{name: k, value: v, origin: Origin{Kind: FromEnv, Var: k}})
		}
	}
	tree = merge(tree, l.envLayer(envVars))
	tree = merge(tree, l.flagLayer(src.flags))

	l.resolveTemplates(tree, "")

	s := &Settings{meta: l.meta}
	l.decodeStruct(reflect.ValueOf(s).Elem(), sc.root, tree)
	l.finish(s)
	return s, l.problems
}

// finish applies Ocean's derived values.
func (l *loader) finish(s *Settings) {
	s.Integration.Type = strings.ToLower(strings.TrimSpace(s.Integration.Type))
	if s.Integration.Identifier == "" && s.Integration.Type != "" {
		s.Integration.Identifier = "my-" + s.Integration.Type + "-integration"
	}
	if s.Integration.Config == nil {
		s.Integration.Config = map[string]any{}
	}
	s.EventListener.Type = strings.ToUpper(strings.TrimSpace(s.EventListener.Type))
	s.Port.BaseURL = strings.TrimRight(strings.TrimSpace(s.Port.BaseURL), "/")
	if s.Application.LogLevel != "" && l.meta.origins["log_level"].Kind == FromDefault {
		s.LogLevel = s.Application.LogLevel
		l.meta.origins["log_level"] = l.meta.origins["application.log_level"]
	}
}

func (l *loader) add(problems ...Problem) {
	for _, p := range problems {
		if p.Warning {
			l.meta.warnings = append(l.meta.warnings, p)
		} else {
			l.problems = append(l.problems, p)
		}
	}
}

func (l *loader) errorf(key string, o Origin, format string, args ...any) {
	l.add(Problem{Key: key, Origin: o, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(key string, o Origin, format string, args ...any) {
	l.add(Problem{Key: key, Origin: o, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (l *loader) display(path string) string { return l.meta.display(path) }

// display shows a snake_case path as config.yaml spells it: camelCase,
// and integration.config keys as the source's spec names them.
func (m *meta) display(path string) string {
	if path == "" {
		return ""
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		inConfig := len(parts) > 2 && parts[0] == "integration" && parts[1] == "config"
		if inConfig && i > 2 {
			continue // nested integration.config keys are kept as written
		}
		if inConfig && i == 2 && m != nil && m.spec != nil {
			name, idx, _ := strings.Cut(p, "[")
			if f := m.spec.byKey[name]; f != nil {
				parts[i] = f.Name
				if idx != "" {
					parts[i] += "[" + idx
				}
				continue
			}
		}
		parts[i] = camelize(p)
	}
	return strings.Join(parts, ".")
}
