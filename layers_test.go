package outcall

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/outcall/outcall"

// floors puts every package of the module on a floor, bottom up; the diagram in doc.go draws them. A pattern is a
// package path relative to the module ("" is the root), or a prefix ending in "/..." for a directory and
// everything below it. A package may import a lower floor, or its own floor within its family (see family).
var floors = []struct {
	name string
	pkgs []string
	// crossMax, when set, is the highest floor this floor's packages may import from another family: drivers and
	// providers implement their own family's contract and build on the call, never on a sibling (a recognizer
	// does not import a synthesizer). default: the floor just below.
	crossMax string
}{
	{"0 vocabulary", []string{"pkg/nlu/numeral"}, ""},
	{"1a media and text", []string{"pkg/audio", "pkg/textnorm", "internal/breaker", "internal/openaiclient",
		"internal/redistest", "tts/ttstest/modem"}, ""},
	{"1b wire", []string{"pkg/rtp", "pkg/audiosocket"}, ""},
	{"1c voice activity detectors", []string{"pkg/audio/vad/...", "internal/vadcorpus"}, ""},
	{"2 the call", []string{"pkg/call"}, ""},
	{"3a contracts and clients", []string{"ari", "asr", "tts", "pkg/store", "pkg/secure"}, ""},
	{"3b drivers and providers", []string{"ari/driver", "pkg/esl", "asr/...", "tts/..."}, "2 the call"},
	{"3c scripted callee", []string{"pkg/callee"}, ""},
	{"3d simulators", []string{"ari/aritest", "pkg/esl/esltest", "internal/mediatest"}, ""},
	{"4a understanding", []string{"pkg/nlu"}, ""},
	{"4b turn-taking", []string{"turn"}, ""},
	{"4c scripts", []string{"dialog/..."}, ""},
	{"5a campaign and reports", []string{"pkg/campaign", "report", "pkg/metrics"}, ""},
	{"5b application", []string{"pkg/outbound"}, ""},
	{"5c templates and suites", []string{"pkg/outbound/outboundtest", "examples/...", "bench/...", "internal/sectortest", "internal/faulttest", ""}, ""},
}

// edges names the third-party modules that stay at the edges, with the only packages that may import them.
var edges = map[string][]string{
	"github.com/redis/go-redis/v9": {"pkg/store", "pkg/secure", "pkg/campaign", "tts/rediscache", "internal/redistest",
		"pkg/outbound", "examples/..."},
	"github.com/prometheus/":            {"pkg/metrics", "pkg/outbound", "examples/..."},
	"github.com/sashabaranov/go-openai": {"internal/openaiclient", "dialog", "pkg/nlu", "asr/openai", "tts/openai"},
}

// TestLayers fails on every import that runs upward or sideways between families, and on a package no floor holds.
func TestLayers(t *testing.T) {
	graph, err := moduleImports(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(graph) < 30 {
		t.Fatalf("found only %d packages: the walk is broken", len(graph))
	}
	for _, p := range check(graph) {
		t.Error(p)
	}
	third, err := moduleImportsOf(".", func(imp string) bool { return !strings.HasPrefix(imp, module) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkEdges(third) {
		t.Error(p)
	}
}

// checkEdges returns every import of an edge module by a package edges does not allow, sorted.
func checkEdges(graph map[string][]string) []string {
	var problems []string
	for pkg, imports := range graph {
		for _, imp := range imports {
			for mod, allowed := range edges {
				if strings.HasPrefix(imp, mod) && !slices.ContainsFunc(allowed, func(p string) bool { return matches(p, pkg) }) {
					problems = append(problems, fmt.Sprintf("%s imports %s, which stays at the edges (%s)", pkg, imp, strings.Join(allowed, ", ")))
				}
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestLayersCheck: the checker itself sees an upward edge, a sideways one between families, a package on no floor,
// and accepts downward and same-family edges.
func TestLayersCheck(t *testing.T) {
	graph := map[string][]string{
		"pkg/audio":  nil,
		"pkg/call":   {"pkg/audio"},                // down: fine
		"ari/driver": {"ari", "pkg/call"},          // same floor and family, and down: fine
		"ari":        nil,                          //
		"pkg/store":  {"dialog"},                   // up
		"tts":        {"pkg/store"},                // sideways across families on floor 3a
		"dialog":     {"pkg/call", "pkg/newthing"}, // down, and onto a package no floor holds
		"pkg/secure": {"pkg/audio", "asr/sub"},     // down; up into a subpackage of asr/...
		"asr/sphinx": {"asr", "tts"},               // its own contract: fine; a sibling's contract: not
	}
	got := check(graph)
	want := []string{
		"asr/sphinx (3b drivers and providers) imports tts (3a contracts and clients): a sibling family's package; this floor builds only on 2 the call and below",
		"pkg/newthing is on no floor",
		"pkg/secure (3a contracts and clients) imports asr/sub (3b drivers and providers): upward",
		"pkg/store (3a contracts and clients) imports dialog (4c scripts): upward",
		"tts (3a contracts and clients) imports pkg/store (3a contracts and clients): same floor, another family",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("check found\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	edgeGot := checkEdges(map[string][]string{"tts": {"github.com/redis/go-redis/v9"}, "tts/rediscache": {"github.com/redis/go-redis/v9"}})
	if len(edgeGot) != 1 || !strings.HasPrefix(edgeGot[0], "tts imports github.com/redis/go-redis/v9") {
		t.Fatalf("checkEdges found %q, want tts's go-redis import alone", edgeGot)
	}
}

// check returns every broken rule of graph (package → the module's packages it imports), sorted.
func check(graph map[string][]string) []string {
	var problems []string
	seen := map[string]bool{}
	unplaced := func(p string) {
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p+" is on no floor")
		}
	}
	for pkg, imports := range graph {
		from, ok := floorOf(pkg)
		if !ok {
			unplaced(pkg)
			continue
		}
		for _, imp := range imports {
			to, ok := floorOf(imp)
			switch {
			case !ok:
				unplaced(imp)
			case to > from:
				problems = append(problems, fmt.Sprintf("%s (%s) imports %s (%s): upward", pkg, floors[from].name, imp, floors[to].name))
			case to == from && family(pkg) != family(imp):
				problems = append(problems, fmt.Sprintf("%s (%s) imports %s (%s): same floor, another family", pkg, floors[from].name, imp, floors[to].name))
			case family(pkg) != family(imp) && to > crossMax(from):
				problems = append(problems, fmt.Sprintf("%s (%s) imports %s (%s): a sibling family's package; this floor builds only on %s and below", pkg, floors[from].name, imp, floors[to].name, floors[crossMax(from)].name))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// crossMax returns the highest floor floor i's packages may import from another family.
func crossMax(i int) int {
	if floors[i].crossMax == "" {
		return i - 1
	}
	for j, f := range floors {
		if f.name == floors[i].crossMax {
			return j
		}
	}
	panic("no floor " + floors[i].crossMax)
}

// matches reports whether pattern (a package, or a directory ending in "/...") holds pkg.
func matches(pattern, pkg string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == dir || strings.HasPrefix(pkg, dir+"/")
	}
	return pattern == pkg
}

// floorOf returns the index of the floor holding pkg; an exact pattern wins over a "/..." one.
func floorOf(pkg string) (int, bool) {
	best, bestLen := -1, -1
	for i, f := range floors {
		for _, p := range f.pkgs {
			switch {
			case p == pkg:
				return i, true
			case strings.HasSuffix(p, "/..."):
				dir := strings.TrimSuffix(p, "/...")
				if (pkg == dir || strings.HasPrefix(pkg, dir+"/")) && len(dir) > bestLen {
					best, bestLen = i, len(dir)
				}
			}
		}
	}
	return best, best >= 0
}

// family is the tree a package belongs to: its first path element, or the first two under pkg/ and internal/
// (ari/driver and ari/aritest are ari's; pkg/esl/esltest is pkg/esl's).
func family(pkg string) string {
	parts := strings.Split(pkg, "/")
	if len(parts) > 1 && (parts[0] == "pkg" || parts[0] == "internal") {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// moduleImports parses every non-test Go file under root, whatever its build tags, and returns each package
// directory (relative to the module) with the module's packages it imports.
func moduleImports(root string) (map[string][]string, error) {
	g, err := moduleImportsOf(root, func(imp string) bool { return imp == module || strings.HasPrefix(imp, module+"/") })
	for pkg, imports := range g {
		for i, imp := range imports {
			imports[i] = strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
		}
		g[pkg] = imports
	}
	return g, err
}

// moduleImportsOf is moduleImports for the imports keep selects, as written.
func moduleImportsOf(root string, keep func(string) bool) (map[string][]string, error) {
	graph := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			dir = ""
		}
		imports := graph[dir]
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", path, spec.Path.Value, err)
			}
			if !keep(imp) {
				continue
			}
			if !slices.Contains(imports, imp) {
				imports = append(imports, imp)
			}
		}
		graph[dir] = imports
		return nil
	})
	return graph, err
}
