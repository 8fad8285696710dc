package stream

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokerConfig configures the embedded Kafka-protocol broker.
type BrokerConfig struct {
	// Addr is host:port of the first broker; broker i listens on port+i.
	Addr string
	// Count is the number of brokers in the cluster (default 1).
	Count int
	// DataDir persists the log; "" keeps it in memory only.
	DataDir string
	Log     *slog.Logger
}

// StartBroker starts the embedded broker (franz-go's kfake): Count brokers
// on consecutive ports from Addr, persisted under DataDir. Compaction runs
// every minute. Close the cluster to stop it.
func StartBroker(cfg BrokerConfig) (*kfake.Cluster, error) {
	if cfg.Count == 0 {
		cfg.Count = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port+cfg.Count-1 > 65535 {
		return nil, fmt.Errorf("broker address %q: want a port from 1 to %d", cfg.Addr, 65536-cfg.Count)
	}
	ports := make([]int, cfg.Count)
	for i := range ports {
		ports[i] = port + i
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(cfg.Count),
		kfake.Ports(ports...),
		// kfake listens on 127.0.0.1:port; keep the host asked for.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.ClusterID("paredao"),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "60000"}),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("broker data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	cfg.Log.Info("embedded broker listening", "addrs", c.ListenAddrs(), "brokers", cfg.Count, "data_dir", cfg.DataDir)
	return c, nil
}
