package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/outcall/outcall/dialog"
	"github.com/outcall/outcall/internal/redistest"
)

// BenchmarkRedisSaveTurn measures one turn's write (state + journal entry, one EVAL round trip) on a local
// redis-server.
func BenchmarkRedisSaveTurn(b *testing.B) {
	st := NewRedis(redistest.Start(b).Client(b), RedisConfig{TTL: time.Hour, MaxJournal: 1000})
	s := &dialog.State{CallID: "bench", Node: "gentle", Vars: map[string]any{"name": "张三", "overdue_days": 5},
		Slots: map[string]any{"pay_amount": 300.0}}
	t := dialog.Turn{Node: "gentle", Prompt: "尊敬的张三,您的账单即将到期", Transcript: "好的明天还", Intent: "will_pay"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Turn = i + 1
		t.Seq = s.Turn
		if err := st.SaveTurn(b.Context(), s, t); err != nil {
			b.Fatal(fmt.Errorf("turn %d: %w", i, err))
		}
	}
}
