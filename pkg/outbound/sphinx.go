//go:build sphinx

package outbound

import (
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
	"github.com/outcall/outcall/asr/sphinx"
)

const sphinxBuilt = true

func newSphinx(log zerolog.Logger) (asr.Recognizer, error) {
	return sphinx.New(sphinx.Config{Logger: &log})
}
