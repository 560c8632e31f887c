//! enlace-os (being written).
