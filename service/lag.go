package service

import (
	"context"
	"strconv"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/stream"
)

// statser is a processor that reports goka statistics.
type statser interface {
	StatsWithContext(ctx context.Context) *goka.ProcessorStats
}

// lagCollector exports each group's consumer lag per input partition:
//
//	paredao_processor_lag_records{group, topic, partition}
type lagCollector struct {
	groups []*stream.Supervisor
	desc   *prometheus.Desc
}

// NewLagCollector exports the lag of groups (paredao_processor_lag_records):
// of the processor each one runs at the time of a scrape.
func NewLagCollector(groups ...*stream.Supervisor) prometheus.Collector {
	return &lagCollector{groups: groups, desc: prometheus.NewDesc("paredao_processor_lag_records",
		"Records not yet processed, per group and input partition.", []string{"group", "topic", "partition"}, nil)}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, g := range c.groups {
		s, ok := g.Current().(statser)
		if !ok {
			continue
		}
		stats := s.StatsWithContext(ctx)
		if stats == nil {
			continue
		}
		for part, ps := range stats.Group {
			for topic, in := range ps.Input {
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(in.OffsetLag), g.Name, topic, strconv.Itoa(int(part)))
			}
		}
	}
}
