// Package http is Paredão's web tier: the public API and pages (chi), the
// proof-of-work challenge and the signed voter cookie, the production API, and
// the error mapper every handler answers through.
//
// It depends on small interfaces it declares itself (Catalog, VoteEmitter,
// Standings, Reports) and on pipeline; never on goka, Kafka or SQL drivers.
package http
