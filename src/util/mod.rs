//! The bottom layer: helpers that import nothing of the crate.

pub(crate) mod par;
pub(crate) mod sys;
pub mod duration;
pub mod text;
