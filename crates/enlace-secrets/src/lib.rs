//! enlace-secrets (being written).
