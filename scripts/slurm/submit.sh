#!/bin/bash
# Submits a manifest as an N-task Slurm job array plus the merge job, from the current
# directory (the jobs' working directory), and prints the two job ids on stdout.
#
#   scripts/slurm/submit.sh 8 nightly.csv [batchrun run options]
#
# Extra options go to `batchrun run`; the merge job is given --command if the run was, since
# it must build the same jobs from the manifest. Set BATCHRUN to batchrun's path if it is not
# on the PATH of the compute nodes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:?usage: submit.sh N MANIFEST [batchrun run options]}
manifest=${2:?usage: submit.sh N MANIFEST [batchrun run options]}
shift 2
# The options that shape the jobs must reach merge too.
merge_opts=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --command | --retries | --timeout | --limit)
            merge_opts+=("${args[i]}" "${args[i + 1]}")
            i=$((i + 1))
            ;;
        --command=* | --retries=* | --timeout=* | --limit=*) merge_opts+=("${args[i]}") ;;
    esac
done
array=$(sbatch --parsable --array="1-$n" "$here/shard.sbatch" "$manifest" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterany:$array" "$here/merge.sbatch" "$array" \
    ${merge_opts[@]+"${merge_opts[@]}"})
merge=${merge%%;*}
echo "array job $array, merge job $merge; merged report: reports/$array/merged.json" >&2
echo "$array $merge"
