//go:build !sphinx

package outbound

import (
	"github.com/rs/zerolog"

	"github.com/outcall/outcall/asr"
)

const sphinxBuilt = false

func newSphinx(zerolog.Logger) (asr.Recognizer, error) {
	return nil, ErrConfig // unreachable: FromEnv refuses ASR=sphinx in this build
}
