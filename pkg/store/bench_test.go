package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/outcall/outcall/internal/redistest"
)

// BenchmarkRedisSave measures one turn's write (state + journal entry, one EVAL round trip) on a local
// redis-server, with a state and entry the size of a finance script's.
func BenchmarkRedisSave(b *testing.B) {
	st := NewRedis(redistest.Start(b).Client(b), RedisConfig{TTL: time.Hour, MaxJournal: 1000})
	state := []byte(`{"call_id":"bench","script":"finance","node":"gentle","vars":{"name":"张三","overdue_days":5},"slots":{"pay_amount":300},"turn":1}`)
	entry := []byte(`{"seq":1,"node":"gentle","prompt":"尊敬的张三,您的账单即将到期","input":"utterance","transcript":"好的明天还","intent":"will_pay"}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ok, err := st.Save(b.Context(), "bench", i+1, state, entry, nil); !ok || err != nil {
			b.Fatal(fmt.Errorf("turn %d: stored %v, %w", i, ok, err))
		}
	}
}
