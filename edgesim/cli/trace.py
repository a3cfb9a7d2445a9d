"""`edgesim trace`: make an Edge-LLM trace from measured sensitivities (--from-mse) or by measuring a PyTorch model
(--measure, in `edgesim.cli.measure`; torch is imported only then)."""

from __future__ import annotations

import argparse
from typing import Any

from edgesim.cli import measure
from edgesim.cli.args import bad, require_positive
from edgesim.frontend.export import luc_trace, uniform_trace, write_trace
from edgesim.frontend.luc import UNMEASURED_CHOICES


def add_parser(sub: Any) -> None:
    tr = sub.add_parser("trace", help="make an Edge-LLM trace: from measured sensitivities (--from-mse) or by "
                                      "measuring a PyTorch model (--measure; needs the 'frontend' extra)")
    tr.add_argument("--from-mse", metavar="CSV", help="layer,pruning_ratio,sample,output_mse measurements")
    tr.add_argument("--uniform", action="store_true",
                    help="no measurements: every layer at --target sparsity (the trace's provenance says so)")
    tr.add_argument("--model", default="llama7b")
    tr.add_argument("--target", type=float, default=0.5, help="mean sparsity (default 0.5)")
    tr.add_argument("--unmeasured", choices=list(UNMEASURED_CHOICES), default="refuse",
                    help="what to do with layers whose measurements are all zero (default: refuse)")
    tr.add_argument("--low-bit-layers", default="", metavar="I,J,...", help="layers at 4 bits (others 8)")
    tr.add_argument("--stride", type=int, default=8, help="layers per tuning window / exit spacing (default 8)")
    tr.add_argument("--seq", type=int, help="tuning sequence length the trace records (default 512, or the model's "
                                            "max_seq if smaller)")
    tr.add_argument("-o", "--output", metavar="FILE", required=True)
    measure.add_arguments(tr)


def run(args: argparse.Namespace) -> str:
    if sum(map(bool, (args.measure, args.from_mse, args.uniform))) > 1:
        raise bad("edgesim trace", "give one of --from-mse CSV, --measure and --uniform")
    if args.measure:
        return measure.run(args)
    if not args.from_mse and not args.uniform:
        raise bad("edgesim trace", "give --from-mse CSV (measurements), --measure small|module|hf (measure a PyTorch "
                                   "model) or --uniform (no measurements)")
    require_positive("--stride", args.stride)
    if args.seq is not None:
        require_positive("--seq", args.seq)
    if not 0 < args.target < 1:
        raise bad("--target", f"expected a mean sparsity in (0, 1), got {args.target}")
    try:
        low = tuple(int(x) for x in args.low_bit_layers.split(",") if x.strip())
    except ValueError:
        raise bad("--low-bit-layers", f"expected comma-separated layer indices, got {args.low_bit_layers!r}") from None
    if args.uniform:
        data, trace = uniform_trace(args.model, target=args.target, low_bit_layers=low, stride=args.stride,
                                    seq=args.seq, source=args.output)
        write_trace(data, args.output)
        return (f"wrote {args.output}: {trace.model}, {len(trace.policies)} layers, uniform sparsity {args.target:.3f} "
                f"(not measured), {len(trace.phases)} phases")
    data, trace, luc = luc_trace(args.model, args.from_mse, target=args.target, unmeasured=args.unmeasured,
                                 low_bit_layers=low, stride=args.stride, seq=args.seq, source=args.output)
    write_trace(data, args.output)
    return (f"wrote {args.output}: {trace.model}, {len(trace.policies)} layers, mean sparsity "
            f"{sum(luc.sparsity) / len(luc.sparsity):.3f}, unmeasured layers: {data['provenance']['unmeasured_layers']} "
            f"({luc.choice}), {len(trace.phases)} phases")
