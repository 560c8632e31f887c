//! Shared helpers for the journey and end-to-end tests live in `tests/tests/`.
