package secure_test

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/outcall/outcall/pkg/secure"
)

func ExampleNewWriter() {
	keys := secure.NewLocalKeys()
	_, _ = keys.Add("kek-1", bytes.Repeat([]byte{0x42}, 32)) // load a real key with keys.LoadKeyFile

	var file bytes.Buffer
	w, _ := secure.NewWriter(context.Background(), &file, keys, secure.EncryptOptions{})
	_, _ = w.Write([]byte("RIFF... stereo call recording ..."))
	_ = w.Close()

	r, err := secure.NewReader(context.Background(), &file, keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	plain, _ := io.ReadAll(r)
	fmt.Println(r.KeyID, string(plain))
	// Output: kek-1 RIFF... stereo call recording ...
}

func ExampleRedactor() {
	r := secure.NewRedactor("张伟")
	fmt.Println(r.Redact("张伟的手机13800138000，欠款1250.50元"))
	// Output: 张*的手机138****8000，欠款1250.50元
}
