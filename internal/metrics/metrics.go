// Package metrics defines tempid's Prometheus metrics. Labels carry routes,
// statuses, verdicts, reasons and results — never an identifier, a name, an
// ID number or a code.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments, registered on their own registry
// (no global state).
type Metrics struct {
	registry *prometheus.Registry

	Requests      *prometheus.HistogramVec // route, method, status
	Issued        prometheus.Counter
	Refusals      *prometheus.CounterVec // code: quota_exhausted, active_certificate_exists, …
	Verifications *prometheus.CounterVec // verdict, reason, operation
	FaceChecks    *prometheus.CounterVec // result, reason
	Throttled     *prometheus.CounterVec // code: rate_limited, face_checks_locked
	PassesIssued  prometheus.Counter
	StorageErrors *prometheus.CounterVec // cause: disk_full, io_error, read_only, lock_timeout, timeout, connection, resources
	// ProviderRequests counts calls to an outside provider (identity
	// registry, face vendor) by provider, action and outcome: ok, refused
	// (the vendor answered with a refusal), error, timeout, circuit_open.
	ProviderRequests *prometheus.CounterVec
	ProviderLatency  *prometheus.HistogramVec // provider, action
}

// New creates and registers the metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tempid_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		Issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tempid_certificates_issued_total", Help: "Certificates issued.",
		}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_refusals_total", Help: "Requests refused, by problem code (quota_exhausted counts quota refusals).",
		}, []string{"code"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_verifications_total", Help: "Online verifications by verdict, reason and operation.",
		}, []string{"verdict", "reason", "operation"}),
		FaceChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_face_checks_total", Help: "Completed face checks by result and reason.",
		}, []string{"result", "reason"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_throttled_total", Help: "Requests refused by a throttle.",
		}, []string{"code"}),
		PassesIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tempid_passes_issued_total", Help: "Passes issued (first passes and re-views).",
		}),
		StorageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_storage_errors_total",
			Help: "Requests answered 503 unavailable because of the storage, by cause (disk_full, io_error, read_only, lock_timeout, timeout, connection, resources).",
		}, []string{"cause"}),
		ProviderRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tempid_provider_requests_total", Help: "Requests to outside providers by provider, action and outcome.",
		}, []string{"provider", "action", "outcome"}),
		ProviderLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tempid_provider_request_duration_seconds",
			Help:    "Latency of requests to outside providers by provider and action.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"provider", "action"}),
	}
	r.MustRegister(m.Requests, m.Issued, m.Refusals, m.Verifications, m.FaceChecks, m.Throttled, m.PassesIssued, m.StorageErrors,
		m.ProviderRequests, m.ProviderLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
