package nlu

import (
	"bufio"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strings"
)

// corpusFS holds the labelled utterances of the sector scripts (corpus/*.tsv), one a line:
//
//	script <TAB> node <TAB> intent <TAB> slots <TAB> forbidden <TAB> text
//
// slots is "name=value;name=value" (dates as 2006-01-02 against Monday 2026-03-02 10:00 UTC, amounts as numbers),
// forbidden is "name,name": slots the words must not produce; "-" leaves a field empty. Lines starting with # are
// comments.
//
//go:embed corpus/*.tsv heldout/*.tsv
var corpusFS embed.FS

// Utterance is one labelled line of the corpus.
type Utterance struct {
	Script    string            // script name (finance-overdue, ecommerce, ...); "*" for any script
	Node      string            // node the callee answers at ("*": any)
	Intent    string            // expected intent, "" for none
	Slots     map[string]string // expected slot values
	Forbidden []string          // slots that must not be captured
	Text      string            // what the callee said
	File      string            // corpus file and line, for reports
}

// HeldOut reports whether u belongs to the held-out half: a hash of its text decides, so the split never changes
// as lines are added and no one chooses which half a line falls in.
func (u Utterance) HeldOut() bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(u.Script + "\x00" + u.Text))
	return h.Sum32()%2 == 1
}

// Corpus returns the labelled utterances, in file order. A malformed line is an error naming its file and line.
func Corpus() ([]Utterance, error) { return readCorpus("corpus/*.tsv") }

// SecondHeldOut returns the second held-out set (heldout/*.tsv, same format as the corpus): utterances written
// after the rules and the model were built, to measure how they generalise — colloquial and regional Mandarin,
// ASR-style errors (homophones, dropped characters), code-switching and English. Nothing is trained or tuned on
// it: TuningModel never reads it, and no rule may be changed from its errors.
func SecondHeldOut() ([]Utterance, error) { return readCorpus("heldout/*.tsv") }

func readCorpus(pattern string) ([]Utterance, error) {
	names, err := fs.Glob(corpusFS, pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Utterance
	for _, name := range names {
		f, err := corpusFS.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			u, ok, err := parseUtterance(sc.Text())
			if err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("nlu: %s:%d: %w", name, line, err)
			}
			if ok {
				u.File = fmt.Sprintf("%s:%d", name, line)
				out = append(out, u)
			}
		}
		_ = f.Close()
	}
	return out, nil
}

func parseUtterance(line string) (Utterance, bool, error) {
	if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
		return Utterance{}, false, nil
	}
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return Utterance{}, false, fmt.Errorf("want 6 tab-separated fields, got %d", len(f))
	}
	for i := range f {
		if f[i] = strings.TrimSpace(f[i]); f[i] == "-" {
			f[i] = ""
		}
	}
	u := Utterance{Script: f[0], Node: f[1], Intent: f[2], Text: f[5]}
	if u.Script == "" || u.Text == "" {
		return Utterance{}, false, fmt.Errorf("script and text are required")
	}
	if f[3] != "" {
		u.Slots = map[string]string{}
		for _, kv := range strings.Split(f[3], ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return Utterance{}, false, fmt.Errorf("bad slot %q (want name=value)", kv)
			}
			u.Slots[k] = v
		}
	}
	if f[4] != "" {
		u.Forbidden = strings.Split(f[4], ",")
	}
	return u, true, nil
}

// TuningModel trains a Model on the tuning half of the corpus, labelled with the intent names the scripts route
// (global ones and each script's own). The held-out half is never read here.
func TuningModel(minProb float64) (*Model, error) {
	us, err := Corpus()
	if err != nil {
		return nil, err
	}
	var ex []Example
	for _, u := range us {
		if u.HeldOut() || u.Intent == "*" {
			continue // held out, or a line whose intent is not labelled (a node that only captures)
		}
		ex = append(ex, Example{Text: u.Text, Intent: u.Intent})
	}
	return TrainModel(ex, minProb), nil
}
