/*!
Exit codes (SPEC §5) as named constants, and the functions that pick one.
*/

use crate::error::Error;
use crate::runner::Stops;

/// Every job succeeded (or was resumed).
pub const SUCCESS: i32 = 0;
/// At least one job failed, timed out, could not start, or was skipped.
pub const FAILURE: i32 = 1;
/// Usage error or invalid manifest: nothing ran.
pub const USAGE: i32 = 2;
/// batchrun itself failed (cannot write the report or joblog, …).
pub const INTERNAL: i32 = 3;
/// `--lock` is held by another run (`EX_TEMPFAIL`, as flock(1) -E suggests).
pub const LOCKED: i32 = 75;
/// `--deadline` reached (as timeout(1)).
pub const DEADLINE: i32 = 124;
/// Interrupted by a signal (128 + SIGINT, as shells report Ctrl+C).
pub const INTERRUPTED: i32 = 130;

/// The exit code for an error that ended batchrun before or around the run.
pub fn for_error(e: &Error) -> i32 {
    match e {
        Error::Usage(_) | Error::Invalid { .. } | Error::ReadManifest { .. } => USAGE,
        Error::Locked { .. } => LOCKED,
        Error::Output { .. } | Error::Internal(_) => INTERNAL,
    }
}

/// The exit code for a finished run: batchrun's own failure first, then 130, then 124,
/// then 1, else 0.
pub fn for_run(stops: &Stops, any_failure: bool) -> i32 {
    if stops.internal.is_some() {
        INTERNAL
    } else if stops.interrupted {
        INTERRUPTED
    } else if stops.deadline {
        DEADLINE
    } else if any_failure || stops.halted {
        FAILURE
    } else {
        SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let all = Stops {
            interrupted: true,
            deadline: true,
            halted: true,
            internal: None,
        };
        assert_eq!(for_run(&all, true), INTERRUPTED);
        let s = Stops {
            interrupted: false,
            ..all
        };
        assert_eq!(for_run(&s, true), DEADLINE);
        let s = Stops {
            deadline: false,
            ..s
        };
        assert_eq!(for_run(&s, false), FAILURE);
        assert_eq!(for_run(&Stops::default(), true), FAILURE);
        assert_eq!(for_run(&Stops::default(), false), SUCCESS);
        let s = Stops {
            internal: Some("x"),
            ..all
        };
        assert_eq!(for_run(&s, false), INTERNAL);
    }

    #[test]
    fn errors() {
        assert_eq!(for_error(&Error::Usage("x".into())), USAGE);
        assert_eq!(
            for_error(&Error::Locked {
                path: "l".into(),
                holder: String::new()
            }),
            LOCKED
        );
        assert_eq!(for_error(&Error::Internal("x".into())), INTERNAL);
    }
}
