//! The core: manifest validation, statuses, exit codes, output, reports, signals.

use crate::util::*;

#[test]
fn all_succeed_exits_0() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,true\nb,echo hi\n");
    t.run(&["run", "m.csv"]).code(0).stdout_has("hi");
}
