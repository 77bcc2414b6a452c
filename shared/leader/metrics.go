package leader

import "github.com/prometheus/client_golang/prometheus"

// Collector exports client-go's leader_election_master_status: 1 while this
// replica holds the lease, 0 otherwise, labelled by the lease name.
func (e *Elector) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "leader_election_master_status",
		Help:        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
		ConstLabels: prometheus.Labels{"name": e.Name},
	}, func() float64 {
		if e.IsLeader() {
			return 1
		}
		return 0
	})
}
