// Package mapping turns raw third-party items into Port entities, with the
// semantics of Ocean's port app config ("the mapping"), so a mapping written
// for Ocean gives the same entities here.
//
// # Reading a mapping
//
// ParseJSON reads the mapping Port stores; ParseFile and ParseYAML read a
// port-app-config file and keep every value's line and column. Keys and
// defaults are Ocean's (enableMergeEntity, deleteDependentEntities and
// createMissingRelatedEntities true, entityDeletionThreshold 0.9); values
// of another type are coerced as Ocean's pydantic models coerce them;
// selector keys a source defines are kept in Selector.Raw; every problem is
// reported at once with its path and place. Unknown keys are warnings
// (Config.Warnings), as Ocean ignores them.
//
// # Evaluating it
//
// Compile compiles every jq program once and refuses the mapping if any
// does not compile, naming the resource, kind, field and the column in the
// expression and in the file: a broken mapping is caught before anything
// is written to Port. Then, as in Ocean:
//
//   - a program's value is its first output; an error or no output gives
//     null and a Misconfiguration naming the field;
//   - single-quoted strings are rewritten to double-quoted ones with
//     Ocean's regular expression, quirks included (quote.go);
//   - selector.query must give a boolean, else the item fails (*ItemError);
//   - identifier, team and relations may be search queries, evaluated leaf
//     by leaf;
//   - entities whose identifier is not a non-empty string or search query,
//     or whose blueprint is not a non-empty string, are dropped, counted
//     and reported as a Misconfiguration (Ocean drops only falsy ones and
//     lets Port refuse the rest);
//   - itemsToParse expands an item into one per list element, after the
//     top-level transform deleted the first simple path of the expression
//     from it (itemsparse.go); items it cannot expand are skipped;
//   - non-JSON Go values in items (times, int64, []string...) are
//     converted as Ocean converts dates, to their ISO text.
//
// Differences, on purpose: jq's env and $ENV see only the variables of
// Options.EnvAllowList (none by default), so a mapping edited in Port cannot
// read the daemon's secrets; the jq programs of one item run under a time
// limit (Options.ItemTimeout), so a runaway program fails that item
// instead of stalling the resync, and under a memory budget
// (Options.MemoryBudget: running programs are stopped when the heap passes
// it, memguard.go), so a program that builds a huge value or recurses
// without end fails its item instead of taking the process down; a
// mapping file is read within the limits of internal/yamlsafe (size,
// nesting, nodes, alias expansion); a YAML scalar that is not a string
// (`query: true`, `.nan`) is taken as the jq the user wrote.
//
// # Speed
//
// Paths (.a.b) and literals ('"service"'), most of a typical mapping, are
// evaluated in Go; the rest runs in gojq. A Mapping is safe for concurrent
// use: the resync's page workers call Map, and MapItems spreads one page
// over the idle cores. See docs/benchmarks.md (Mapping).
//
// The package imports no other oceand package but internal/yamlsafe (the
// YAML limits config shares): it is pure data in, data out. `oceand mapping test` runs it on sample items.
package mapping
