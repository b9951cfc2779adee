// Package tracing owns Motlan's OpenTelemetry traces: the tracer provider (off unless an
// OTLP/HTTP endpoint is configured), the HTTP server middleware that gives every request a
// span named by its route pattern, and the client transport that gives every upstream call
// (eID, TSA, OCSP/CRL, remote signing) a child span and W3C trace context (traceparent).
//
// Spans carry no personal data: no raw paths (they hold request ids and codes), no query
// strings, no client addresses or user agents, no header values. Only the HTTP method, the
// route pattern, the status code, the upstream's name and host, and error kinds. For that
// reason the middleware and transport are Motlan's own rather than otelhttp's, whose
// default attributes include url.full, url.path, client.address and user_agent.original.
//
// A nil *Tracer is tracing off: its middleware and transport return what they wrap, so the
// cost when off is nothing at all.
package tracing
