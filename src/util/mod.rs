//! The bottom layer: helpers that import nothing of the crate.

pub mod bytes;
pub mod duration;
pub mod fs;
pub(crate) mod par;
pub(crate) mod spill;
pub(crate) mod sys;
pub mod text;
