// Package reconcile holds the job service's pure decisions: the Job planner
// (a port of pkg/controller/job's syncJob over stored state) and the CronJob
// planner (pkg/controller/cronjob's syncCronJob), each a function of the
// object, what it owns and the time, with no database or bus.
package reconcile

import "time"

// BackOff is the delay before a Job with restartPolicy Never replaces a failed
// pod: Base after the first failure, doubling per consecutive failure (since
// the last success), capped at Max.
type BackOff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackOff is Kubernetes' documented pod failure back-off: 10 s doubling
// (10 s, 20 s, 40 s, ...), capped at six minutes. The cap follows the Job
// documentation ("capped at six minutes"); the controller's source has used a
// 10-minute constant, which a backoffLimit of 6 (the default) never reaches
// anyway: 10+20+40+80+160+320 s already stops at the sixth failure.
var DefaultBackOff = BackOff{Base: 10 * time.Second, Max: 6 * time.Minute}

// Scaled returns the back-off with both durations multiplied by f (tests and
// demos run the same schedule faster); f <= 0 leaves it unchanged.
func (b BackOff) Scaled(f float64) BackOff {
	if f <= 0 || f == 1 {
		return b
	}
	return BackOff{Base: time.Duration(float64(b.Base) * f), Max: time.Duration(float64(b.Max) * f)}
}

// Delay is the wait after the n-th consecutive failure (0 for n <= 0).
func (b BackOff) Delay(n int) time.Duration {
	if n <= 0 || b.Base <= 0 {
		return 0
	}
	d := b.Base
	for i := 1; i < n; i++ {
		d *= 2
		if b.Max > 0 && d >= b.Max {
			return b.Max
		}
	}
	if b.Max > 0 && d > b.Max {
		return b.Max
	}
	return d
}
