package redistest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of real redis-servers, one master per server and no replicas, the 16384 slots split
// evenly between them in order, started by one test.
type Cluster struct {
	Masters []*Server
	ids     []string // node ids, by master index
}

// StartCluster runs a cluster of n masters on free 127.0.0.1 ports and waits until every node sees every slot
// served. It is stopped when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c, err := launchCluster(tb.TempDir(), n)
	if c != nil {
		tb.Cleanup(c.Stop)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func launchCluster(dir string, n int) (*Cluster, error) {
	c := &Cluster{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, "node"+strconv.Itoa(i))
		s, err := launchDir(d, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(d, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		if err != nil {
			return c, err
		}
		c.Masters = append(c.Masters, s)
		id, err := c.node(i).Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return c, fmt.Errorf("redistest: cluster node %d id: %w", i, err)
		}
		c.ids = append(c.ids, id)
		first, last := i*16384/n, (i+1)*16384/n-1
		if err := c.node(i).Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			return c, fmt.Errorf("redistest: cluster node %d slots %d-%d: %w", i, first, last, err)
		}
		// Distinct epochs before the nodes meet, as redis-cli --cluster create sets them: no epoch collision to settle.
		if err := c.node(i).Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return c, fmt.Errorf("redistest: cluster node %d epoch: %w", i, err)
		}
	}
	for i := 1; i < n; i++ {
		host, port, _ := net.SplitHostPort(c.Masters[i].Addr)
		if err := c.node(0).Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
			return c, fmt.Errorf("redistest: cluster meet %s: %w", c.Masters[i].Addr, err)
		}
	}
	return c, c.waitAgreed(ctx)
}

// waitAgreed waits until every node reports the cluster ok, knows every node, and maps all slots.
func (c *Cluster) waitAgreed(ctx context.Context) error {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Masters))
	for i := range c.Masters {
		for {
			info, err := c.node(i).ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want) &&
				strings.Contains(info, "cluster_slots_assigned:16384") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("redistest: cluster node %s not ready: %v\n%s", c.Masters[i].Addr, err, info)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// node returns a plain (non-cluster) client of master i, closed with the cluster.
func (c *Cluster) node(i int) *redis.Client {
	s := c.Masters[i]
	if s.admin == nil {
		s.admin = redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	}
	return s.admin
}

// Addrs returns the masters' addresses, the seed list of a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Masters))
	for i, s := range c.Masters {
		out[i] = s.Addr
	}
	return out
}

// Client returns a new cluster client, closed when the test ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, s := range c.Masters {
		if s.admin != nil {
			_ = s.admin.Close()
		}
		s.Stop()
	}
}

// SlotOwner returns the index of the master that serves slot, as master 0 sees it.
func (c *Cluster) SlotOwner(ctx context.Context, slot int) (int, error) {
	slots, err := c.node(0).ClusterSlots(ctx).Result()
	if err != nil {
		return -1, fmt.Errorf("redistest: cluster slots: %w", err)
	}
	for _, r := range slots {
		if int(r.Start) <= slot && slot <= int(r.End) && len(r.Nodes) > 0 {
			for i, s := range c.Masters {
				if s.Addr == r.Nodes[0].Addr {
					return i, nil
				}
			}
			return -1, fmt.Errorf("redistest: slot %d served by unknown node %s", slot, r.Nodes[0].Addr)
		}
	}
	return -1, fmt.Errorf("redistest: slot %d not served", slot)
}

// SlotMove is a slot being resharded from one master to another, the way redis-cli --cluster reshard does it:
// the target IMPORTING, the source MIGRATING, keys moved in batches with MIGRATE, then the slot given to the
// target. Between Begin and Finish clients get ASK and TRYAGAIN replies, which is what a test of resharding is for.
type SlotMove struct {
	c              *Cluster
	slot, from, to int
}

// BeginMove puts slot in migration from its current owner to master to.
func (c *Cluster) BeginMove(ctx context.Context, slot, to int) (*SlotMove, error) {
	from, err := c.SlotOwner(ctx, slot)
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, fmt.Errorf("redistest: slot %d is already on master %d", slot, to)
	}
	if err := c.node(to).Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", c.ids[from]).Err(); err != nil {
		return nil, fmt.Errorf("redistest: slot %d importing on %d: %w", slot, to, err)
	}
	if err := c.node(from).Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", c.ids[to]).Err(); err != nil {
		return nil, fmt.Errorf("redistest: slot %d migrating on %d: %w", slot, from, err)
	}
	return &SlotMove{c: c, slot: slot, from: from, to: to}, nil
}

// Step migrates up to n of the slot's keys still on the source, and returns how many it moved (0: none left).
func (m *SlotMove) Step(ctx context.Context, n int) (int, error) {
	src := m.c.node(m.from)
	keys, err := src.ClusterGetKeysInSlot(ctx, m.slot, n).Result()
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	return len(keys), m.Migrate(ctx, keys...)
}

// Migrate moves the named keys of the slot to the target now, for a test that needs a given split.
func (m *SlotMove) Migrate(ctx context.Context, keys ...string) error {
	host, port, _ := net.SplitHostPort(m.c.Masters[m.to].Addr)
	args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := m.c.node(m.from).Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redistest: migrate %d keys of slot %d: %w", len(keys), m.slot, err)
	}
	return nil
}

// Finish moves the keys left and gives the slot to the target on every master.
func (m *SlotMove) Finish(ctx context.Context) error {
	for {
		n, err := m.Step(ctx, 100)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	order := []int{m.to, m.from}
	for i := range m.c.Masters {
		if i != m.to && i != m.from {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if err := m.c.node(i).Do(ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.c.ids[m.to]).Err(); err != nil {
			return fmt.Errorf("redistest: slot %d to node %d on %d: %w", m.slot, m.to, i, err)
		}
	}
	return nil
}

// AddReplica starts a replica of master i in the cluster and waits until it has synchronised, for failover tests:
// kill the master and the cluster promotes the replica after the node timeout (2 s).
func (c *Cluster) AddReplica(tb testing.TB, master int) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := filepath.Join(tb.TempDir(), "replica")
	s, err := launchDir(d, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(d, "nodes.conf"),
		"--cluster-node-timeout", "2000")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.admin.Close(); s.Stop() })
	s.admin = redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	host, port, _ := net.SplitHostPort(s.Addr)
	if err := c.node(master).Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
		tb.Fatalf("redistest: meet replica: %v", err)
	}
	for {
		// REPLICATE fails until the replica has learnt of the master through the cluster bus.
		err = s.admin.Do(ctx, "CLUSTER", "REPLICATE", c.ids[master]).Err()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: replicate master %d: %v", master, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for {
		info, err := s.admin.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return s
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: replica of master %d never synchronised: %v\n%s", master, err, info)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// KeySlot returns the slot of key, as the cluster computes it (hash tag included).
func (c *Cluster) KeySlot(ctx context.Context, key string) (int, error) {
	n, err := c.node(0).ClusterKeySlot(ctx, key).Result()
	return int(n), err
}
