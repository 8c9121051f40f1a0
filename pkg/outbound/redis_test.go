package outbound

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/outcall/outcall/internal/redistest"
)

// TestOpenRedisCluster: a REDIS_URL with addr= parameters opens a cluster client on a real 3-master cluster, and
// one naming a node that is not there is refused at once with the address in the error.
func TestOpenRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	a := cl.Addrs()
	ctx := context.Background()
	rdb, err := openRedis(ctx, "redis://"+a[0]+"?addr="+a[1]+"&addr="+a[2])
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("client %T, want a *redis.ClusterClient", rdb)
	}
	for _, k := range []string{"{a}x", "{b}x", "{c}x", "{d}x"} { // spread over the masters
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s on the cluster: %v", k, err)
		}
	}
	single, err := openRedis(ctx, "redis://"+a[0]+"/0")
	if err != nil {
		t.Fatal(err)
	}
	single.Close()
	if _, ok := single.(*redis.Client); !ok {
		t.Fatalf("client %T for a single-node URL, want *redis.Client", single)
	}
	if _, err := openRedis(ctx, "redis://127.0.0.1:1?addr=127.0.0.1:2"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("cluster that is not there: %v", err)
	}
}
