package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
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
	// e.g. "state_dir" or "port.base_url".
	Flags map[string]string
}

// Load builds the effective settings from all sources.
func Load(opts LoadOptions) (*Settings, error) {
	tree := defaults()
	env := envMap(opts.Environ)

	path := opts.ConfigFile
	required := path != ""
	if path == "" {
		path = filepath.Join(opts.Dir, "config.yaml")
	}
	fileTree, err := readYAML(path, required, env)
	if err != nil {
		return nil, err
	}
	tree = merge(tree, fileTree)

	dotenv, err := readDotEnv(filepath.Join(opts.Dir, ".env"))
	if err != nil {
		return nil, err
	}
	tree = merge(tree, envTree(dotenv))
	tree = merge(tree, envTree(env))

	flagTree := map[string]any{}
	for k, v := range opts.Flags {
		setPath(flagTree, strings.Split(k, "."), envValue(v))
	}
	tree = merge(tree, flagTree)

	var s Settings
	if err := assign(reflect.ValueOf(&s).Elem(), tree, ""); err != nil {
		return nil, err
	}
	s.Integration.Type = strings.ToLower(s.Integration.Type)
	if s.Integration.Identifier == "" && s.Integration.Type != "" {
		s.Integration.Identifier = "my-" + s.Integration.Type + "-integration"
	}
	if s.Integration.Config == nil {
		s.Integration.Config = map[string]any{}
	}
	return &s, nil
}

func envMap(environ []string) map[string]string {
	out := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// envTree turns OCEAN__A__B_C=v variables into {a: {b_c: v}}.
func envTree(env map[string]string) map[string]any {
	tree := map[string]any{}
	for k, v := range env {
		rest, ok := cutPrefixFold(k, "OCEAN__")
		if !ok || rest == "" {
			continue
		}
		parts := strings.Split(strings.ToLower(rest), "__")
		setPath(tree, parts, envValue(v))
	}
	return tree
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

var templateRE = regexp.MustCompile(`^\{\{\s*from\s+(\S+)\s+(.*?)\s*\}\}`)

func readYAML(path string, required bool, env map[string]string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	tree, _ := decamelizeTree(normalizeYAML(raw)).(map[string]any)
	if err := resolveTemplates(tree, "", env, path); err != nil {
		return nil, err
	}
	return tree, nil
}

// normalizeYAML converts YAML integers to float64 or int as JSON would, so
// values can be handed to jq and compared with env strings.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	case uint64:
		return float64(t)
	case int64:
		return float64(t)
	case int:
		return float64(t)
	default:
		return v
	}
}

// resolveTemplates replaces {{ from env NAME }} strings. A missing variable
// removes the key (its default applies) and is reported if the key is
// required by Validate.
func resolveTemplates(v map[string]any, prefix string, env map[string]string, file string) error {
	for k, e := range v {
		switch t := e.(type) {
		case map[string]any:
			if err := resolveTemplates(t, prefix+k+".", env, file); err != nil {
				return err
			}
		case string:
			m := templateRE.FindStringSubmatch(t)
			if m == nil {
				continue
			}
			if m[1] != "env" {
				return fmt.Errorf("%s: %s%s: unknown template provider %q (only env is supported)", file, prefix, k, m[1])
			}
			val, ok := env[m[2]]
			if !ok {
				return fmt.Errorf("%s: %s%s reads env %s, which is not set", file, prefix, k, m[2])
			}
			v[k] = val
		}
	}
	return nil
}

// readDotEnv parses KEY=VALUE lines; a missing file is empty.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, sc.Err()
}

// assign decodes a settings tree into a struct, coercing strings from the
// environment to the field's type. Errors name the setting.
func assign(dst reflect.Value, v any, path string) error {
	if v == nil {
		return nil
	}
	switch dst.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object, got %v", displayPath(path), v)
		}
		t := dst.Type()
		for i := 0; i < t.NumField(); i++ {
			key := t.Field(i).Tag.Get("key")
			if key == "" {
				continue
			}
			if fv, ok := m[key]; ok {
				if err := assign(dst.Field(i), fv, join(path, key)); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.String:
		switch t := v.(type) {
		case string:
			dst.SetString(t)
		case float64:
			dst.SetString(strconv.FormatFloat(t, 'f', -1, 64))
		case bool:
			dst.SetString(strconv.FormatBool(t))
		default:
			return fmt.Errorf("%s: must be a string, got %v", displayPath(path), v)
		}
		return nil
	case reflect.Int:
		switch t := v.(type) {
		case int:
			dst.SetInt(int64(t))
		case float64:
			if t != float64(int64(t)) {
				return fmt.Errorf("%s: must be an integer, got %v", displayPath(path), t)
			}
			dst.SetInt(int64(t))
		case string:
			if strings.TrimSpace(t) == "" {
				dst.SetInt(0)
				return nil
			}
			n, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil {
				return fmt.Errorf("%s: must be an integer, got %q", displayPath(path), t)
			}
			dst.SetInt(int64(n))
		default:
			return fmt.Errorf("%s: must be an integer, got %v", displayPath(path), v)
		}
		return nil
	case reflect.Bool:
		switch t := v.(type) {
		case bool:
			dst.SetBool(t)
		case string:
			b, err := parseBool(t)
			if err != nil {
				return fmt.Errorf("%s: must be a boolean, got %q", displayPath(path), t)
			}
			dst.SetBool(b)
		default:
			return fmt.Errorf("%s: must be a boolean, got %v", displayPath(path), v)
		}
		return nil
	case reflect.Slice:
		var items []any
		switch t := v.(type) {
		case []any:
			items = t
		case string:
			for _, p := range strings.Split(t, ",") {
				if p = strings.TrimSpace(p); p != "" {
					items = append(items, p)
				}
			}
		default:
			return fmt.Errorf("%s: must be a list, got %v", displayPath(path), v)
		}
		out := reflect.MakeSlice(dst.Type(), len(items), len(items))
		for i, it := range items {
			if err := assign(out.Index(i), it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object, got %v", displayPath(path), v)
		}
		dst.Set(reflect.ValueOf(m))
		return nil
	}
	return fmt.Errorf("%s: unsupported setting type %s", displayPath(path), dst.Type())
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "y", "t":
		return true, nil
	case "0", "false", "no", "off", "n", "f", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// displayPath shows a snake_case setting path in config.yaml's camelCase.
func displayPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = camelize(p)
	}
	return strings.Join(parts, ".")
}

func camelize(s string) string {
	var b strings.Builder
	up := false
	for _, c := range s {
		if c == '_' {
			up = true
			continue
		}
		if up {
			b.WriteString(strings.ToUpper(string(c)))
			up = false
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
