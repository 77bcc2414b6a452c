package store

import (
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the pgx pool's statistics (pgxpool.Stat) at each scrape,
// under the pgxpool_ names of the usual pgx exporters, labelled by schema.
func (db *DB) PoolCollector() prometheus.Collector {
	return &poolCollector{db: db, labels: prometheus.Labels{"schema": db.Schema}}
}

type poolCollector struct {
	db     *DB
	labels prometheus.Labels
}

type poolStat struct {
	name, help string
	kind       prometheus.ValueType
}

var poolStats = []poolStat{
	{"pgxpool_acquired_conns", "Connections currently acquired from the pool.", prometheus.GaugeValue},
	{"pgxpool_idle_conns", "Idle connections in the pool.", prometheus.GaugeValue},
	{"pgxpool_constructing_conns", "Connections being opened.", prometheus.GaugeValue},
	{"pgxpool_total_conns", "Connections in the pool (acquired, idle and constructing).", prometheus.GaugeValue},
	{"pgxpool_max_conns", "Largest size of the pool.", prometheus.GaugeValue},
	{"pgxpool_acquires_total", "Successful acquires from the pool.", prometheus.CounterValue},
	{"pgxpool_acquire_duration_seconds_total", "Time spent in successful acquires.", prometheus.CounterValue},
	{"pgxpool_empty_acquires_total", "Successful acquires that waited for a connection because none was idle.", prometheus.CounterValue},
	{"pgxpool_canceled_acquires_total", "Acquires cancelled by their context.", prometheus.CounterValue},
	{"pgxpool_new_conns_total", "Connections opened.", prometheus.CounterValue},
	{"pgxpool_max_lifetime_destroys_total", "Connections closed for exceeding their maximum lifetime.", prometheus.CounterValue},
	{"pgxpool_max_idle_destroys_total", "Connections closed for exceeding their maximum idle time.", prometheus.CounterValue},
}

func (c *poolCollector) desc(s poolStat) *prometheus.Desc {
	return prometheus.NewDesc(s.name, s.help, nil, c.labels)
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range poolStats {
		ch <- c.desc(s)
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.Pool.Stat()
	values := []float64{
		float64(st.AcquiredConns()), float64(st.IdleConns()), float64(st.ConstructingConns()), float64(st.TotalConns()),
		float64(st.MaxConns()), float64(st.AcquireCount()), st.AcquireDuration().Seconds(), float64(st.EmptyAcquireCount()),
		float64(st.CanceledAcquireCount()), float64(st.NewConnsCount()), float64(st.MaxLifetimeDestroyCount()),
		float64(st.MaxIdleDestroyCount()),
	}
	for i, s := range poolStats {
		ch <- prometheus.MustNewConstMetric(c.desc(s), s.kind, values[i])
	}
}
