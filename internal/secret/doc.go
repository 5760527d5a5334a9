// Package secret holds Gatehouse's low-level secret handling: random tokens
// and ids, password hashing (argon2id, with bcrypt verification for imported
// hashes), a bounded pool that keeps password hashing from exhausting memory
// or CPU, and a keyring that derives purpose-bound keys from the master secret
// and encrypts data at rest.
//
// Everything here is pure computation over bytes and strings: the package
// does not know about HTTP, storage, users or configuration files, and it
// keeps no global mutable state. Higher layers decide what to hash, store or
// encrypt; this package only decides how. Secrets never appear in errors
// returned from here.
package secret
