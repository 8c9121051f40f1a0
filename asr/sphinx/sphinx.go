// Package sphinx is an offline asr.Recognizer on pocketsphinx (cgo, Debian's libpocketsphinx) that listens for the phrases a dialog node expects.
package sphinx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/pkg/audio"
	"github.com/outcall/outcall/pkg/textnorm"
)

// Sentinel errors.
var (
	ErrModel    = errors.New("sphinx: model")
	ErrGrammar  = errors.New("sphinx: grammar")
	ErrDecoder  = errors.New("sphinx: decoder")
	ErrLanguage = errors.New("sphinx: language not supported by the model")
	ErrClosed   = errors.New("sphinx: closed")
	ErrRate     = errors.New("sphinx: frame rate differs from the stream's")
)

const modelDir = "/usr/share/pocketsphinx/model/en-us"

// Config configures a Recognizer. The defaults are Debian's pocketsphinx-en-us package.
type Config struct {
	Model    string          // acoustic model directory; default /usr/share/pocketsphinx/model/en-us/en-us
	Dict     string          // pronunciation dictionary; default /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict
	Language string          // language of the model; default "en"
	PoolSize int             // idle decoders kept for reuse (each holds the acoustic model, ~20 MB); default 4
	Logger   *zerolog.Logger // default zerolog.Nop(); recognised text is never logged
}

// Recognizer recognises English speech against a grammar built per stream from asr.Config.Phrases (any one of
// them, whole) and Hotwords (further alternatives). A stream with Hotwords but no Phrases spots them: its grammar
// lets any common English words surround them, and its results carry only the hotwords heard, in order.
// Audio at 8 kHz is resampled to the model's 16 kHz. It is safe for concurrent use; each stream uses its own
// decoder, taken from a pool.
type Recognizer struct {
	cfg  Config
	log  zerolog.Logger
	dir  string              // temporary files: the seed dictionary
	dict map[string][]string // word → pronunciations

	mu     sync.Mutex
	idle   []*decoder
	closed bool
}

// New loads the pronunciation dictionary and checks the model. Close releases the decoders and temporary files.
func New(cfg Config) (*Recognizer, error) {
	if cfg.Model == "" {
		cfg.Model = filepath.Join(modelDir, "en-us")
	}
	if cfg.Dict == "" {
		cfg.Dict = filepath.Join(modelDir, "cmudict-en-us.dict")
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 4
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	if st, err := os.Stat(filepath.Join(cfg.Model, "mdef")); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%w: %s has no mdef (install pocketsphinx-en-us): %v", ErrModel, cfg.Model, err)
	}
	dict, err := loadDict(cfg.Dict)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "outcall-sphinx-")
	if err != nil {
		return nil, fmt.Errorf("sphinx: %w", err)
	}
	// Decoders start from a one-word dictionary; each stream adds the words of its phrases.
	seed := "yes " + strings.Join(dict["yes"], "") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "seed.dict"), []byte(seed), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("sphinx: %w", err)
	}
	r := &Recognizer{cfg: cfg, log: log.With().Str("asr", "sphinx").Logger(), dir: dir, dict: dict}
	d, err := r.newDecoder()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	r.idle = append(r.idle, d)
	return r, nil
}

// loadDict reads a CMU-style dictionary: "word PH ONES", alternates as "word(2) ...".
func loadDict(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: dictionary: %v", ErrModel, err)
	}
	defer f.Close()
	dict := make(map[string][]string, 140000)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		sp := strings.IndexAny(line, " \t")
		if sp <= 0 || strings.HasPrefix(line, ";;") {
			continue
		}
		word, phones := line[:sp], strings.TrimSpace(line[sp:])
		if i := strings.IndexByte(word, '('); i > 0 {
			word = word[:i]
		}
		if c := strings.IndexByte(phones, '#'); c >= 0 { // trailing comments
			phones = strings.TrimSpace(phones[:c])
		}
		if phones != "" {
			dict[word] = append(dict[word], phones)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: dictionary %s: %v", ErrModel, path, err)
	}
	if len(dict["yes"]) == 0 {
		return nil, fmt.Errorf("%w: dictionary %s lacks common English words", ErrModel, path)
	}
	return dict, nil
}

func (r *Recognizer) newDecoder() (*decoder, error) {
	return newDecoder(r.cfg.Model, filepath.Join(r.dir, "seed.dict"), postspeechFrames)
}

// postspeechFrames is the decoder's own VAD hangover (10 ms frames); the stream's Endpointing adds to it.
const postspeechFrames = 20

// Close frees idle decoders and temporary files; streams still open free theirs when they close.
func (r *Recognizer) Close() error {
	r.mu.Lock()
	idle := r.idle
	r.idle, r.closed = nil, true
	r.mu.Unlock()
	for _, d := range idle {
		d.free()
	}
	return os.RemoveAll(r.dir)
}

func (r *Recognizer) get() (*decoder, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(r.idle); n > 0 {
		d := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return d, nil
	}
	r.mu.Unlock()
	return r.newDecoder()
}

func (r *Recognizer) put(d *decoder) {
	if d.inUtt {
		if _, err := d.end(); err != nil {
			d.free()
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.idle) >= r.cfg.PoolSize {
		d.free()
		return
	}
	r.idle = append(r.idle, d)
}

// Words splits a phrase into the lowercase words the dictionary uses: digits and amounts are spelled out
// (textnorm.Normalize), punctuation is dropped.
func Words(phrase string) []string {
	phrase = strings.ToLower(textnorm.Normalize(phrase, "en"))
	return strings.FieldsFunc(phrase, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c == '\'')
	})
}

// Grammar returns the JSGF grammar that accepts any one of phrases, whole, or any one of hotwords, with the words
// the dictionary lacks: a phrase containing such a word is left out.
func (r *Recognizer) Grammar(phrases, hotwords []string) (jsgf string, unknown []string) {
	seen := map[string]bool{}
	var alts []string
	for _, p := range append(append([]string(nil), phrases...), hotwords...) {
		ws := Words(p)
		ok := len(ws) > 0
		for _, w := range ws {
			if len(r.dict[w]) == 0 {
				unknown = append(unknown, w)
				ok = false
			}
		}
		alt := strings.Join(ws, " ")
		if ok && !seen[alt] {
			seen[alt] = true
			alts = append(alts, alt)
		}
	}
	if len(alts) == 0 {
		return "", unknown
	}
	return "#JSGF V1.0;\ngrammar outcall;\npublic <utterance> = " + strings.Join(alts, " | ") + " ;\n", unknown
}

// spotGrammar returns the JSGF grammar that finds any of hotwords (already split into known words) among filler
// words, or hears filler words alone.
func spotGrammar(hot []string) string {
	return "#JSGF V1.0;\ngrammar outcall;\n<filler> = " + strings.Join(fillerWords, " | ") + " ;\n<hot> = " +
		strings.Join(hot, " | ") + " ;\npublic <utterance> = <filler>* <hot> ( <filler> | <hot> )* | <filler>+ ;\n"
}

// fillerWords are common English words that absorb the speech around hotwords.
var fillerWords = strings.Fields(`a about after all also am an and any are as at back be because but by can come
could day do even first for from get give go good have he her here him his how i if in into is it its just know
like look make me more my new no not now of on one only or other our out over people please right say see she so
some take than that the their them then there these they think this time to two up us use very want was way we
well what when which who will with work would year yes you your`)

// spotter keeps the hotwords of a spotting grammar's hypothesis.
type spotter []string

func (sp spotter) keep(hyp string) string {
	words := strings.Fields(hyp)
	var out []string
	for i := 0; i < len(words); i++ {
		for _, h := range sp {
			hw := strings.Fields(h)
			if i+len(hw) <= len(words) && strings.Join(words[i:i+len(hw)], " ") == h {
				out = append(out, h)
				i += len(hw) - 1
				break
			}
		}
	}
	return strings.Join(out, " ")
}

// Start begins a stream. c.Phrases and c.Hotwords must name at least one word the dictionary knows; c.SampleRate
// is 8000 or 16000 (default 16000); c.Endpointing is the silence that ends an utterance (default 500 ms).
func (r *Recognizer) Start(ctx context.Context, c asr.Config) (asr.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sphinx: start: %w", err)
	}
	if c.Language != "" && !strings.HasPrefix(c.Language, r.cfg.Language) {
		return nil, fmt.Errorf("%w: stream wants %q, model is %q", ErrLanguage, c.Language, r.cfg.Language)
	}
	rate := c.SampleRate
	if rate == 0 {
		rate = audio.Wideband.Rate
	}
	var rs *audio.Resampler
	if rate != audio.Wideband.Rate {
		var err error
		if rs, err = audio.NewResampler(rate, audio.Wideband.Rate); err != nil {
			return nil, fmt.Errorf("sphinx: sample rate %d: %w", rate, err)
		}
	}
	jsgf, unknown := r.Grammar(c.Phrases, c.Hotwords)
	if len(unknown) > 0 {
		r.log.Warn().Int("unknown_words", len(unknown)).Msg("phrases with words missing from the dictionary left out")
	}
	if jsgf == "" {
		return nil, fmt.Errorf("%w: no phrase or hotword with words in the dictionary (%d unknown words)", ErrGrammar, len(unknown))
	}
	d, err := r.get()
	if err != nil {
		return nil, err
	}
	var spot spotter
	if len(c.Phrases) == 0 {
		for _, h := range c.Hotwords {
			if ws := Words(h); len(ws) > 0 && r.known(ws) {
				spot = append(spot, strings.Join(ws, " "))
			}
		}
		jsgf = spotGrammar(spot)
	}
	if err := r.prepare(d, c, jsgf, spot != nil); err != nil {
		d.free()
		return nil, err
	}
	end := c.Endpointing
	if end == 0 {
		end = 500 * time.Millisecond
	}
	s := &stream{rec: r, dec: d, rate: rate, rs: rs, hangover: end - postspeechFrames*10*time.Millisecond,
		out: make(chan asr.Result, 64), lang: r.cfg.Language}
	if spot != nil {
		s.filter = spot.keep
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wake = make(chan struct{}, 1)
	go s.deliver()
	return s, nil
}

// prepare adds the stream's words (and the filler words when spotting) to the decoder and activates its grammar.
func (r *Recognizer) prepare(d *decoder, c asr.Config, jsgf string, spotting bool) error {
	var words []string
	for _, p := range append(append([]string(nil), c.Phrases...), c.Hotwords...) {
		words = append(words, Words(p)...)
	}
	if spotting {
		words = append(words, fillerWords...)
	}
	sort.Strings(words)
	words = compact(words)
	add := words[:0]
	for _, w := range words {
		if len(r.dict[w]) > 0 && !d.hasWord(w) {
			add = append(add, w)
		}
	}
	for i, w := range add {
		for j, ph := range r.dict[w] {
			name := w
			if j > 0 {
				name = fmt.Sprintf("%s(%d)", w, j+1)
			}
			if err := d.addWord(name, ph, i == len(add)-1 && j == len(r.dict[w])-1); err != nil {
				return err
			}
		}
	}
	return d.useGrammar(jsgf)
}

func (r *Recognizer) known(words []string) bool {
	for _, w := range words {
		if len(r.dict[w]) == 0 {
			return false
		}
	}
	return true
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
