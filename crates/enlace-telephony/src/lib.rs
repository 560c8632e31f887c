//! enlace-telephony (being written).
