//! enlace-peers (being written).
