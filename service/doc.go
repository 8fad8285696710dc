// Package service runs a Paredão process's long-lived tasks and serves its
// operational endpoints: tasks run in layers and restarted with a backoff
// after a failure that is not permanent (RunLayers), the admin listener with
// /healthz, /readyz (readiness Checks), /metrics and, when asked for,
// /debug/pprof (AdminHandler, Serve), and the process's own measures and
// limits: the data dir's disk (DiskCheck, NewDiskCollector), the processors'
// lag (NewLagCollector), the soft memory limit (MemoryLimit), the public
// listener's connection budget (ConnectionBudget) and the secrets a process
// generates once and keeps (KeptSecret).
//
// It imports stream (for its supervisors and the disk measure), the
// Prometheus client and the standard library; cmd/paredao wires it.
package service
