//! enlace-app (being written).
