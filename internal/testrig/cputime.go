package testrig

import (
	"syscall"
	"time"
)

// CPUTime is the process's user and system CPU time so far, for
// benchmarks that report CPU time beside wall time: on a machine shared
// with other jobs, it tells what the work costs whatever else runs.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
