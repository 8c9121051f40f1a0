package secure

import (
	"bytes"
	"io"
	"strconv"
)

func jsonReader(b []byte) io.Reader { return bytes.NewReader(b) }
func itoa(n int64) string           { return strconv.FormatInt(n, 10) }
