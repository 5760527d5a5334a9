// Package gatehouse is authentication and authorization for web applications:
// accounts, password sign-in, cookie sessions, roles and permissions.
//
// This package holds the domain (User, Session, Principal), the core service
// (Auth: sign-up, sign-in, sessions, Complete), the store contracts, the one
// error type and the plugin contract. It knows nothing of HTTP handlers,
// databases or plugins: the web edge lives in package web, storage backends
// in store/…, and wiring in cmd/gatehouse.
//
//	store, err := sqlite.Open(ctx, "data/gatehouse.db")
//	auth, err := gatehouse.New(gatehouse.Config{PublicURL: "http://localhost:8080"}, store)
//	h := web.New(auth)
//	mux.Handle("/auth/", h)
//	mux.Handle("/app/", h.Require(app))
package gatehouse
