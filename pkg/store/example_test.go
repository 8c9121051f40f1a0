package store_test

import (
	"context"
	"fmt"

	"github.com/outcall/outcall/pkg/store"
)

// A Memory store keeps state and journal in process; NewRedis(client, store.RedisConfig{TTL: 72 * time.Hour})
// does the same across processes in one round trip per turn. dialog.NewStore puts dialog's types on either.
func ExampleNewMemory() {
	ctx := context.Background()
	st := store.NewMemory()
	if _, err := st.Save(ctx, "call-1", 1, []byte(`{"node":"greet"}`), []byte(`{"transcript":"你好"}`), nil); err != nil {
		fmt.Println(err)
		return
	}
	stale, _ := st.Save(ctx, "call-1", 1, []byte(`{"node":"other"}`), nil, nil)
	state, _, _ := st.Load(ctx, "call-1")
	journal, _ := st.Journal(ctx, "call-1")
	fmt.Println(string(state), len(journal), string(journal[0]), "stale write stored:", stale)
	// Output: {"node":"greet"} 1 {"transcript":"你好"} stale write stored: false
}
