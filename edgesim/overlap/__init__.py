"""Step-level scheduling: the ops of a tuning step overlapped across the PE array, the vector unit and DRAM.

- `tasks`: each op as a prefetch, a latency gap and a compute window with its streamed DRAM traffic, from its cost;
- `graph`: the op graph (networkx) from the tensors each op reads and writes;
- `schedule`: the schedule type, its checker and its lower bound;
- `serial`, `greedy`, `cpsat`: the three schedulers (today's one-after-another, list scheduling, CP-SAT).
"""
