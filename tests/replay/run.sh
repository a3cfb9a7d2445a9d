#!/usr/bin/env bash
# Replay: run the CLI on a fixed set of commands and keep every output, to diff two revisions before and after a
# refactor (tinygrad-style "process replay"). Usage, from the repository root: bash tests/replay/run.sh OUTDIR
# then: python tests/replay/compare.py OLD_OUTDIR NEW_OUTDIR. Takes about 40 s. For an old revision, run it from that
# revision's own worktree (git worktree add /tmp/old REV; cd /tmp/old; EDGESIM="$PWD/../venv/bin/python -m edgesim"
# bash /path/to/tests/replay/run.sh OUT): `python -m` imports the package of the working directory first, so run from
# the current checkout it would replay the current code whatever PYTHONPATH says.
set -u
out=$1; mkdir -p "$out"; E=${EDGESIM:-.venv/bin/edgesim}
C=$(mktemp -d)
export HOME=$C/home  # the default job's schedule cache goes to ~/.cache: keep it in the temporary directory
$E tune --compare lora,edge-llm --format json --cache-dir $C/a > $out/default.json
$E > $out/default.txt 2>&1
$E tune --compare full,lora,qlora,partial,edge-llm --mapper heuristic --format json > $out/tune_all_heur.json
$E tune --compare lora,edge-llm --format csv --cache-dir $C/a > $out/tune.csv
$E tune --compare lora,edge-llm --per-layer --mapper fixed-ws --no-cache > $out/tune_perlayer.txt
$E tune --compare lora,edge-llm --engine sim --mapper heuristic --format json > $out/tune_sim.json
$E simulate --format json > $out/simulate.json
$E simulate > $out/simulate.txt
$E simulate --layer llama7b --format json > $out/sim_layer.json
$E simulate --layer llama7b --engine sim --format json > $out/sim_layer_sim.json
$E simulate --layer llama7b --engine sim --timeline $out/tl.csv > /dev/null 2>&1
$E simulate --gemm 512,4096,4096 --dataflow ws --format csv > $out/sim_gemm.csv
$E schedule --layer llama7b --searcher exhaustive --format json --no-cache -o $out/mappings.json > $out/schedule.json
$E simulate --layer llama7b --mappings $out/mappings.json --format json > $out/sim_mappings.json
$E schedule --gemm 512,4096,4096 --searcher fixed-ws --no-cache --format json > $out/schedule_fixed.json
$E tune --compare lora,edge-llm --set pe_array.rows=32 --set pe_array.cols=8 --set global_buffer.capacity_kib=128 --format json --no-cache > $out/tune_small_glb.json
$E tune --compare qlora,edge-llm --hw bitfusion_32x16 --format json --no-cache > $out/tune_bitfusion.json
$E tune --compare lora,edge-llm --hw mobile_npu_32x32 --latency-tolerance 0 --format json --no-cache > $out/tune_mobile_tol0.json
$E tune --method edge-llm --mapper exhaustive --set dram.bandwidth_gb_per_s=102.4 --latency-tolerance 0.1 --format json --no-cache > $out/tune_exh_tol10.json
$E tune --compare lora,edge-llm --overlap greedy --format json --cache-dir $C/a > $out/tune_overlap_greedy.json
$E tune --model tiny --compare full,lora,edge-llm --overlap cpsat --format json > $out/tune_overlap_cpsat_tiny.json
$E infer --format json > $out/infer.json
$E infer > $out/infer.txt
$E simulate --set pe_array.rows=0 > $out/err1.txt 2>&1; echo "rc $?" >> $out/err1.txt
$E tune --compare foo > $out/err2.txt 2>&1; echo "rc $?" >> $out/err2.txt
rm -rf $C
