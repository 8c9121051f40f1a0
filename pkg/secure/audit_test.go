package secure

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/outcall/outcall/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func newAudit(t *testing.T) (*AuditLog, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	a, err := NewAuditLog(srv.Client(t), AuditConfig{Name: "t", Key: []byte("0123456789abcdef-audit")})
	if err != nil {
		t.Fatal(err)
	}
	return a, srv
}

func TestAuditChainVerifiesAndCatchesTampering(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		tamper func(t *testing.T, a *AuditLog, ids []string)
	}{
		{"untouched", nil},
		{"edited detail", func(t *testing.T, a *AuditLog, ids []string) {
			// Rewrite the stream with entry 3's detail changed, keeping ids, seq, prev and mac.
			msgs, _ := a.rdb.XRange(ctx, a.stream, "-", "+").Result()
			a.rdb.Del(ctx, a.stream)
			for i, m := range msgs {
				args := []any{}
				for _, k := range []string{"seq", "ts", "kind", "actor", "subject", "detail", "prev", "mac"} {
					v := m.Values[k]
					if i == 2 && k == "detail" {
						v = "reason=allowed"
					}
					args = append(args, k, v)
				}
				if err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.stream, ID: m.ID, Values: args}).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"deleted entry", func(t *testing.T, a *AuditLog, ids []string) { a.rdb.XDel(ctx, a.stream, ids[4]) }},
		{"deleted tail", func(t *testing.T, a *AuditLog, ids []string) { a.rdb.XDel(ctx, a.stream, ids[len(ids)-1]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := newAudit(t)
			var ids []string
			for i := 0; i < 8; i++ {
				e, err := a.Append(ctx, "gate.refused", "proc-1", fmt.Sprintf("contact-%d", i), "reason=dnc")
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.ID)
			}
			if c.tamper == nil {
				n, err := a.Verify(ctx)
				if err != nil || n != 8 {
					t.Fatalf("Verify = %d, %v; want 8, nil", n, err)
				}
				return
			}
			c.tamper(t, a, ids)
			if _, err := a.Verify(ctx); !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify after %s = %v, want ErrChainBroken", c.name, err)
			}
		})
	}
}

func TestAuditConcurrentAppendersKeepOneChain(t *testing.T) {
	a, srv := newAudit(t)
	// A second AuditLog on its own connection stands for a second process.
	b, _ := NewAuditLog(srv.Client(t), AuditConfig{Name: "t", Key: []byte("0123456789abcdef-audit")})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		log := a
		if w%2 == 1 {
			log = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := log.Append(ctx, "dial", fmt.Sprint("w", w), "c", ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n, err := a.Verify(ctx)
	if err != nil || n != 200 {
		t.Fatalf("Verify = %d, %v; want 200 entries in one chain", n, err)
	}
}

func TestAuditWrongKeyFailsVerify(t *testing.T) {
	a, srv := newAudit(t)
	ctx := context.Background()
	if _, err := a.Append(ctx, "transfer", "p", "call-1", "to=agent"); err != nil {
		t.Fatal(err)
	}
	forger, _ := NewAuditLog(srv.Client(t), AuditConfig{Name: "t", Key: []byte("another-key-16bytes!")})
	if _, err := forger.Verify(ctx); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("verify with another key = %v, want ErrChainBroken", err)
	}
}
