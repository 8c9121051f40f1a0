package dialog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/secure"
	"github.com/outcall/outcall/pkg/store"
)

func TestRedactingStoreMasksJournal(t *testing.T) {
	mem := dialog.NewStore(store.NewMemory())
	s := dialog.RedactingStore{Store: mem, Redact: secure.NewRedactor("王芳").Redact}
	st := &dialog.State{CallID: "c1", Turn: 1}
	turn := dialog.Turn{Seq: 1, Prompt: "王芳女士您好", Transcript: "我的电话是13800138000，身份证11010519491231002X",
		Slots: map[string]any{"phone": "13800138000", "amount": 1250.5}}
	if err := s.SaveTurn(context.Background(), st, turn); err != nil {
		t.Fatal(err)
	}
	j, err := mem.Journal(context.Background(), "c1")
	if err != nil || len(j) != 1 {
		t.Fatalf("journal %v, %v", j, err)
	}
	all := j[0].Prompt + j[0].Transcript + j[0].Slots["phone"].(string)
	for _, secret := range []string{"王芳", "13800138000", "11010519491231002X"} {
		if strings.Contains(all, secret) {
			t.Fatalf("stored journal holds %q: %+v", secret, j[0])
		}
	}
	if j[0].Slots["amount"] != "1250.5" {
		t.Fatalf("amount slot changed: %v", j[0].Slots["amount"])
	}
}
