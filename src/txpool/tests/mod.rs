//! Unit tests of the pool, with transactions signed by real keys.
