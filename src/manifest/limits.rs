//! The manifest's limits and checks that need no row: its size, an id's length and form, and
//! the mark of a job in no group.

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 200;

/// Largest manifest read, from a file or standard input: 256 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// In [`Manifest::group_of`](crate::manifest::Manifest::group_of): the job is in no group.
pub const NO_GROUP: u32 = u32::MAX;

/// Why an id is ill-formed, if it is.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty id (expected a unique job name)".to_string());
    }
    if id.chars().count() > MAX_ID_LEN {
        return Err(format!(
            "id is {} characters long (expected at most {MAX_ID_LEN})",
            id.chars().count()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_:@+".contains(*c)))
    {
        return Err(format!(
            "id '{id}' contains {bad:?} (expected letters, digits and . _ - : @ +)"
        ));
    }
    Ok(())
}
