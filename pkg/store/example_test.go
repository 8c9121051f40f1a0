package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/pkg/store"
)

// A Memory store keeps state and journal in process; NewRedis(client, store.RedisConfig{TTL: 72 * time.Hour})
// does the same across processes in one round trip per turn.
func ExampleNewMemory() {
	ctx := context.Background()
	st := store.NewMemory()
	s := &dialog.State{CallID: "call-1", Node: "greet", Turn: 1}
	if err := st.SaveTurn(ctx, s, dialog.Turn{Seq: 1, Node: "greet", Transcript: "你好", Time: time.Unix(0, 0)}); err != nil {
		fmt.Println(err)
		return
	}
	loaded, _ := st.Load(ctx, "call-1")
	journal, _ := st.Journal(ctx, "call-1")
	fmt.Println(loaded.Node, len(journal), journal[0].Transcript)
	// Output: greet 1 你好
}
