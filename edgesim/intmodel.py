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

    def gate(self, name: str, on: cp_model.IntVar, x: cp_model.IntVar) -> cp_model.IntVar:
        """x if the 0/1 variable `on` is set, else 0 (two enforced linear constraints, no product)."""
        out = self.model.new_int_var(0, self.ub[x.name], name)
        self.model.add(out == x).only_enforce_if(on)
        self.model.add(out == 0).only_enforce_if(on.Not())
        self.ub[name] = self.ub[x.name]
        return out

    def _bool(self, name: str, x: cp_model.LinearExprT) -> cp_model.IntVar:
        b = self.model.new_bool_var(name)
        self.model.add(b == x)
        return b

    def floor_div(self, name: str, num: cp_model.LinearExprT, num_ub: int, den: cp_model.IntVar) -> cp_model.IntVar:
        """floor(num / den) for a non-negative `num` (at most `num_ub`) and a positive variable `den`."""
        n = self.lin(f"{name}_num", num, num_ub)
        out = self.model.new_int_var(0, num_ub, name)
        self.model.add_division_equality(out, n, den)
        self.ub[name] = num_ub
        return out

    def maxv(self, name: str, exprs: list[cp_model.LinearExprT], upper: int) -> cp_model.IntVar:
        """max(exprs), non-negative (`AddMaxEquality`), its bound `upper`."""
        out = self.model.new_int_var(0, upper, name)
        self.model.add_max_equality(out, exprs)
        self.ub[name] = upper
        return out

    def minv(self, name: str, exprs: list[cp_model.LinearExprT], upper: int) -> cp_model.IntVar:
        """min(exprs), non-negative (`AddMinEquality`), its bound `upper`."""
        out = self.model.new_int_var(0, upper, name)
        self.model.add_min_equality(out, exprs)
        self.ub[name] = upper
        return out

    def signed(self, name: str, lo: int, hi: int) -> cp_model.IntVar:
        if max(-lo, hi) >= BIG:
            raise OverflowError(f"{name}: bound {max(-lo, hi)} does not fit CP-SAT's 60-bit domain limit used here")
        return self.model.new_int_var(lo, hi, name)

    def pipelined(self, busy: cp_model.IntVar, xe: cp_model.IntVar, we: cp_model.IntVar, burst: cp_model.IntVar,
                  dram: cp_model.IntVar, x0: cp_model.IntVar, wl: cp_model.IntVar, tiles: cp_model.IntVar,
                  inner: cp_model.IntVar, latency: int, caught: cp_model.IntVar | None = None) -> cp_model.IntVar:
        """The double-buffered tile pipeline's cycles (`edgesim.cost.pipelining._pipelined`), in cycle units: `busy` B,
        the every-tile loads X_e and write-backs W_e, the bursts X_r + W_r (0 when no DRAM loop iterates: then
        everything moves on every tile), all of DRAM's cycles, the first load x_0, the last write-back w_l, the tiles
        T and the innermost iterating DRAM loop's trips n (T / runs R; 1 if none), the latency L. Not capped at single
        buffered. Optionally `caught`, bursts counted whole in the stalls (`pipelined_cycles`' held bursts: transfers
        the caller counts per fill, which are in `dram` but not in the bursts Q; 0 when no loop iterates).

        No product of T-sized counts with cycles (it would overflow 60 bits on large mapspaces): with G = X_e + W_e - B,
        a loop iterating (n >= 2) makes R - 1 <= floor((T - 1) / 2), so the bursts caught are R - 1 and
        - by run: (R - 1) L + Q + G / n - G / T - Q / R + max(0, X_e - B) / T, with G / n = h + r / n (h = G // n)
          and r / n = r R / T;
        - every other tile: floor((T - 1) / 2) L + Q + G / 2 - (1 + e) G / (2T) - Q / R + e max(0, X_e - B) / T,
          e = 1 for even T, with G / 2 = h' + r' T / (2T);
        each a whole part plus one division (rounding toward zero) of a numerator bounded by a few G, Q n and T; with
        no loop iterating (n = 1, Q = 0) "by run" is "every other tile"."""
        m, ub = self.model, self.ub
        t_ub, b_ub, n_ub = ub[tiles.name], ub[busy.name], ub[inner.name]
        positive = m.new_int_var(1, t_ub, "pp_tiles")  # a divisor's domain must exclude 0
        m.add(positive == tiles)
        ub["pp_tiles"] = t_ub
        tiles = positive
        inner1 = m.new_int_var(1, n_ub, "pp_inner")
        m.add(inner1 == inner)
        runs = m.new_int_var(1, t_ub, "pp_runs")
        m.add_multiplication_equality(tiles, [runs, inner1])
        steps = self.model.new_int_var(0, (t_ub - 1) // 2, "pp_steps")  # two-tile steps: floor((T - 1) / 2)
        m.add(2 * steps <= tiles - 1)
        m.add(2 * steps >= tiles - 2)
        even = self._bool("pp_even", tiles - 1 - 2 * steps)
        two, three, iterates = (m.new_bool_var(f"pp_{s}") for s in ("two", "three", "iterates"))
        m.add(tiles >= 2).only_enforce_if(two)
        m.add(tiles <= 1).only_enforce_if(two.Not())
        m.add(tiles >= 3).only_enforce_if(three)
        m.add(tiles <= 2).only_enforce_if(three.Not())
        m.add(inner1 >= 2).only_enforce_if(iterates)
        m.add(inner1 <= 1).only_enforce_if(iterates.Not())
        x_ub, w_ub, q_ub = ub[xe.name], ub[we.name], ub[burst.name]
        wait = self.maxv("pp_wait", [xe - busy, 0], x_ub)  # tile 1 waiting for its load, times T
        one = self.floor_div("pp_one", self.gate("pp_one_n", two, wait), x_ub, tiles)
        g_lo, g_hi = -b_ub, x_ub + w_ub
        g = self.signed("pp_g", g_lo, g_hi)
        m.add(g == xe + we - busy)
        q_n = self.product("pp_burst_n", burst, inner1)
        g_abs = max(-g_lo, g_hi)

        def div(name: str, num: cp_model.IntVar, den: cp_model.LinearExprT, bound: int) -> cp_model.IntVar:
            out = self.signed(name, -bound, bound)
            if not isinstance(den, (int, cp_model.IntVar)):  # an expression: a variable whose domain excludes 0
                d = m.new_int_var(1, 2 * t_ub, f"{name}_den")
                m.add(d == den)
                den = d
            m.add_division_equality(out, num, den)
            return out

        # by run (n >= 2)
        h = div("pp_run_h", g, inner1, g_abs)
        r = self.signed("pp_run_r", -n_ub, n_ub)
        hn = self.signed("pp_run_hn", -g_abs, g_abs)
        m.add_multiplication_equality(hn, [h, inner1])
        m.add(r == g - hn)
        rr = self.signed("pp_run_rr", -t_ub, t_ub)
        m.add_multiplication_equality(rr, [r, runs])
        num_ub = t_ub + g_abs + x_ub + ub[q_n.name]
        run_n = self.signed("pp_run_num", -num_ub, num_ub)
        m.add(run_n == rr - g + wait - q_n)
        run_f = div("pp_run_f", run_n, tiles, num_ub)
        c_ub = 0 if caught is None else ub[caught.name]
        held = m.new_constant(0) if caught is None else caught
        stall_ub = latency * t_ub + q_ub + c_ub + g_abs + num_ub
        by_run = self.signed("pp_by_run", -stall_ub, stall_ub)
        m.add(by_run == latency * (runs - 1) + burst + held + h + run_f).only_enforce_if(iterates)
        m.add(by_run == 0).only_enforce_if(iterates.Not())
        # every other tile
        h2 = div("pp_eo_h", g, 2, g_abs)
        r2 = self.signed("pp_eo_r", -1, 1)
        m.add(r2 == g - 2 * h2)
        r2t = self.signed("pp_eo_rt", -t_ub, t_ub)
        m.add_multiplication_equality(r2t, [r2, tiles])
        ev_g = self.signed("pp_eo_eg", g_lo, g_hi)
        m.add(ev_g == g).only_enforce_if(even)
        m.add(ev_g == 0).only_enforce_if(even.Not())
        ev_w = self.gate("pp_eo_wait", even, wait)
        num2_ub = t_ub + 2 * g_abs + 2 * x_ub + 2 * ub[q_n.name]
        eo_n = self.signed("pp_eo_num", -num2_ub, num2_ub)
        m.add(eo_n == r2t - g - ev_g + 2 * ev_w - 2 * q_n)
        eo_f = div("pp_eo_f", eo_n, 2 * tiles, num2_ub)
        stall_ub = max(stall_ub, latency * t_ub + q_ub + c_ub + g_abs + num2_ub)
        stalls = self.maxv("pp_stalls", [one, by_run, latency * steps + burst + held + h2 + eo_f], stall_ub)
        compute_ub = ub[x0.name] + latency + b_ub + stall_ub + ub[wl.name]
        # the DRAM channel's idle time at the start (from T = 3) and at the end, times T
        w_prev = self.gate("pp_w_prev", two, we)
        start = self.gate("pp_idle_start", three,
                          self.maxv("pp_idle_s", [latency * tiles + busy - xe, 0], latency * t_ub + b_ub))
        end = self.maxv("pp_idle_end", [latency * tiles + busy - w_prev, 0], latency * t_ub + b_ub)
        idle = self.floor_div("pp_idle", start + end, 2 * (latency * t_ub + b_ub), tiles)
        dram_ub = ub[dram.name] + ub[idle.name]
        return self.maxv("pp_total", [x0 + latency + busy + stalls + wl, dram + idle], max(compute_ub, dram_ub))
