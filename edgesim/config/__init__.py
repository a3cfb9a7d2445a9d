"""Every loader of user input: YAML with line numbers, the schema checker, hardware, models, GEMM lists, traces,
mappings files, and the built-in files (`builtin`) that ship with the package."""
