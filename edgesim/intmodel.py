"""Integer CP-SAT building blocks with tracked upper bounds, shared by the exact scheduler models
(`edgesim.search.cpsat_exact`, `edgesim.nestsearch.cpsat`).

Every variable made here is non-negative and has its upper bound recorded (`ub`, by name), so that products can be
given a domain and checked against CP-SAT's limits. Bytes are in 1/`byte_scale` of a byte and cycles in
1/`cycle_scale` of a cycle; `cycles` floors bytes over a bandwidth given as an exact fraction.
"""

from __future__ import annotations

from fractions import Fraction

from ortools.sat.python import cp_model

BIG = 2**60  # CP-SAT domains must lie within ±int64max/2


class IntModel:
    def __init__(self, byte_scale: int, cycle_scale: int):
        self.model = cp_model.CpModel()
        self.ub: dict[str, int] = {}  # upper bounds of the variables made here (booleans count as 1)
        self.byte_scale, self.cycle_scale = byte_scale, cycle_scale

    def lin(self, name: str, expr: cp_model.LinearExprT, upper: int) -> cp_model.IntVar:
        """A variable equal to a non-negative linear expression whose upper bound is `upper`."""
        if upper >= BIG:
            raise OverflowError(f"{name}: bound {upper} does not fit CP-SAT's 60-bit domain limit used here")
        out = self.model.new_int_var(0, int(upper), name)
        self.model.add(out == expr)
        self.ub[name] = int(upper)
        return out

    def ub_product(self, a: cp_model.IntVar, b: cp_model.IntVar) -> int:
        return self.ub.get(a.name, 1) * self.ub.get(b.name, 1)

    def product(self, name: str, a: cp_model.IntVar, b: cp_model.IntVar, cap: int | None = None,
                lo: int = 0) -> cp_model.IntVar:
        """a x b (`AddMultiplicationEquality`), its bound the bounds' product or `cap` if smaller."""
        ub = self.ub_product(a, b) if cap is None else min(cap, self.ub_product(a, b))
        if ub >= BIG:
            raise OverflowError(f"{name}: product bound {ub} does not fit CP-SAT's 60-bit domain limit used here")
        out = self.model.new_int_var(lo, ub, name)
        self.model.add_multiplication_equality(out, [a, b])
        self.ub[name] = ub
        return out

    def cycles(self, name: str, nbytes: cp_model.IntVar, bytes_per_cycle: float) -> cp_model.IntVar:
        """floor(bytes / bandwidth) in 1/cycle_scale cycles, the bandwidth as an exact fraction."""
        bw = Fraction(bytes_per_cycle).limit_denominator(10_000)
        num = self.lin(f"{name}_num", nbytes * (self.cycle_scale * bw.denominator),
                       self.ub[nbytes.name] * self.cycle_scale * bw.denominator)
        upper = self.ub[num.name] // (self.byte_scale * bw.numerator)
        out = self.model.new_int_var(0, upper, name)
        self.model.add_division_equality(out, num, self.byte_scale * bw.numerator)
        self.ub[name] = upper
        return out
