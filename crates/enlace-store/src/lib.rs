//! enlace-store (being written).
