package service

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paredao/paredao/stream"
)

// DiskCheck is the readiness condition of the data dir: not ready while its
// filesystem has less than stream.DiskReserve free (the broker's segments,
// processor state and SQLite then fail to be written, and votes get 503).
func DiskCheck(dir string) Check {
	return Check{Name: "data dir disk", OK: func(context.Context) error {
		d, err := stream.DiskOf(dir)
		if err != nil {
			return err
		}
		if err := d.Full(); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		return nil
	}}
}

// diskCollector exports the room on the data dir's filesystem.
type diskCollector struct {
	dir              string
	free, total, ino *prometheus.Desc
}

// NewDiskCollector exports the free bytes, size and free inodes of dir's
// filesystem (paredao_data_dir_*); no sample while dir is not there.
func NewDiskCollector(dir string) prometheus.Collector {
	return &diskCollector{
		dir: dir,
		free: prometheus.NewDesc("paredao_data_dir_free_bytes",
			"Bytes free on the data dir's filesystem; below 16 MiB /readyz reports it full and votes are refused (503).", nil, nil),
		total: prometheus.NewDesc("paredao_data_dir_size_bytes", "Size of the data dir's filesystem.", nil, nil),
		ino:   prometheus.NewDesc("paredao_data_dir_free_inodes", "Inodes free on the data dir's filesystem (0 when it has no limit).", nil, nil),
	}
}

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.free
	ch <- c.total
	ch <- c.ino
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	d, err := stream.DiskOf(c.dir)
	if err != nil {
		return // the data dir is not there (yet): no sample
	}
	ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(d.FreeBytes))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(d.TotalBytes))
	ch <- prometheus.MustNewConstMetric(c.ino, prometheus.GaugeValue, float64(d.FreeFiles))
}
