package sphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

// newDecoder parses argv (which must outlive the decoder) and initialises a decoder; NULL on failure.
static ps_decoder_t *newDecoder(int argc, char **argv) {
	cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (config == NULL) {
		return NULL;
	}
	ps_decoder_t *ps = ps_init(config);
	cmd_ln_free_r(config); // the decoder holds its own reference
	return ps;
}

static void quiet(void) { err_set_logfp(NULL); }
*/
import "C"

import (
	"fmt"
	"strconv"
	"sync"
	"unsafe"
)

var quietOnce sync.Once

// decoder owns one ps_decoder_t. It is used by one stream at a time.
type decoder struct {
	ps    *C.ps_decoder_t
	argv  []*C.char
	words map[string]bool // words added to its dictionary
	inUtt bool
	// warm is set once an utterance has ended: pocketsphinx's live cepstral mean normalisation starts from the
	// model's initial estimate, which telephone-band audio is far from, and updates it at the end of each utterance.
	warm bool
}

// newDecoder loads the acoustic model and the small seed dictionary.
func newDecoder(model, dict string, postspeechFrames int) (*decoder, error) {
	quietOnce.Do(func() { C.quiet() }) // the library writes its log to stderr otherwise
	args := []string{"-hmm", model, "-dict", dict, "-samprate", "16000", "-vad_postspeech",
		strconv.Itoa(postspeechFrames), "-logfn", "/dev/null"}
	d := &decoder{words: map[string]bool{}}
	for _, a := range args {
		d.argv = append(d.argv, C.CString(a))
	}
	d.ps = C.newDecoder(C.int(len(d.argv)), (**C.char)(unsafe.Pointer(&d.argv[0])))
	if d.ps == nil {
		d.free()
		return nil, fmt.Errorf("%w: cannot load model %s with dictionary %s", ErrModel, model, dict)
	}
	return d, nil
}

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
	for _, a := range d.argv {
		C.free(unsafe.Pointer(a))
	}
	d.argv = nil
}

// addWord adds a pronunciation; update makes the active search see the new words (pass it on the last word).
func (d *decoder) addWord(word, phones string, update bool) error {
	cw, cp := C.CString(word), C.CString(phones)
	defer C.free(unsafe.Pointer(cw))
	defer C.free(unsafe.Pointer(cp))
	u := C.int(0)
	if update {
		u = 1
	}
	if C.ps_add_word(d.ps, cw, cp, u) < 0 {
		return fmt.Errorf("%w: cannot add word %q /%s/", ErrGrammar, word, phones)
	}
	d.words[word] = true
	return nil
}

// hasWord reports whether the dictionary knows word.
func (d *decoder) hasWord(word string) bool {
	if d.words[word] {
		return true
	}
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	p := C.ps_lookup_word(d.ps, cw)
	if p == nil {
		return false
	}
	C.free(unsafe.Pointer(p))
	d.words[word] = true
	return true
}

// useGrammar installs a JSGF grammar as the active search.
func (d *decoder) useGrammar(jsgf string) error {
	name, g := C.CString("outcall"), C.CString(jsgf)
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(g))
	if C.ps_set_jsgf_string(d.ps, name, g) < 0 {
		return fmt.Errorf("%w: pocketsphinx rejected the grammar", ErrGrammar)
	}
	if C.ps_set_search(d.ps, name) < 0 {
		return fmt.Errorf("%w: cannot activate the grammar", ErrGrammar)
	}
	return nil
}

func (d *decoder) start() error {
	if C.ps_start_utt(d.ps) < 0 {
		return fmt.Errorf("%w: start utterance", ErrDecoder)
	}
	d.inUtt = true
	return nil
}

// process decodes 16 kHz samples and reports whether the decoder's VAD hears speech.
func (d *decoder) process(p []int16) (bool, error) {
	if len(p) == 0 {
		return C.ps_get_in_speech(d.ps) != 0, nil
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&p[0])), C.size_t(len(p)), 0, 0) < 0 {
		return false, fmt.Errorf("%w: process audio", ErrDecoder)
	}
	return C.ps_get_in_speech(d.ps) != 0, nil
}

func (d *decoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// end finishes the utterance and returns the best hypothesis.
func (d *decoder) end() (string, error) {
	if !d.inUtt {
		return "", nil
	}
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return "", fmt.Errorf("%w: end utterance", ErrDecoder)
	}
	return d.hyp(), nil
}
