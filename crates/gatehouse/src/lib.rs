//! The Gatehouse facade (being written).
